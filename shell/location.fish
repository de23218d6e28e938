# Where ssh-anchor's private directory is, the same choice as src/shared/core/location.ts and
# location.sh: the directory of $SSH_ANCHOR_SOCKET; else ~/.ssh/anchor-<hostname>, where no other
# user can make a name; else (no home of ours, a path too long to bind, a ~/.ssh that is not ours)
# $XDG_RUNTIME_DIR/ssh-anchor; else /tmp/ssh-anchor-$UID, but only when it is missing or a real
# directory of ours. Sets __ssh_anchor_dir (empty when there is no usable place, said in one line).
set -g __ssh_anchor_dir
if test -n "$SSH_ANCHOR_SOCKET"
    if string match -q '/*' -- $SSH_ANCHOR_SOCKET
        set __ssh_anchor_dir (string replace -r '/[^/]*$' '' -- $SSH_ANCHOR_SOCKET)
    else
        printf 'ssh-anchor: SSH_ANCHOR_SOCKET must be an absolute path, not "%s"; SSH_AUTH_SOCK left as it was\n' $SSH_ANCHOR_SOCKET >&2
    end
else
    set -l host
    test -r /proc/sys/kernel/hostname && read host </proc/sys/kernel/hostname
    test -n "$host"; or set host (uname -n)
    # 92 bytes leave room for /agent.sock.ctl in a socket address (107 bytes).
    if test -n "$host" && ! string match -q '*/*' -- $host && string match -q '/*' -- "$HOME" &&
        test (string length -- "$HOME/.ssh/anchor-$host") -le 92 && test -d $HOME && test -O $HOME &&
        begin
            ! test -e $HOME/.ssh && ! test -L $HOME/.ssh
            or test -d $HOME/.ssh && ! test -L $HOME/.ssh && test -O $HOME/.ssh
        end
        set __ssh_anchor_dir $HOME/.ssh/anchor-$host
    end
    # No home for it: XDG_RUNTIME_DIR, when it is a real directory of ours (logind makes it 0700).
    if test -z "$__ssh_anchor_dir" && string match -q '/*' -- "$XDG_RUNTIME_DIR" &&
        test (string length -- "$XDG_RUNTIME_DIR") -le 81 && test -d $XDG_RUNTIME_DIR && ! test -L $XDG_RUNTIME_DIR && test -O $XDG_RUNTIME_DIR
        set __ssh_anchor_dir $XDG_RUNTIME_DIR/ssh-anchor
    end
    set -l tmp /tmp/ssh-anchor-(id -u)
    if begin
            test -e $tmp; or test -L $tmp
        end && begin
            test -L $tmp; or ! test -d $tmp; or ! test -O $tmp
        end
        # Someone else got to the name first: it is never used or looked into. Said once per login.
        if test -z "$__ssh_anchor_dir"
            printf 'ssh-anchor: %s is not yours (another user made it) and your home cannot hold the socket; set SSH_ANCHOR_SOCKET to a path of your own (ssh-anchor doctor names the owner)\n' $tmp >&2
        else if test -z "$SSH_ANCHOR_SQUAT_SEEN"
            printf 'ssh-anchor: warning: %s was made by another user, perhaps to intercept agents; it is not used (ssh-anchor doctor names the owner)\n' $tmp >&2
            set -gx SSH_ANCHOR_SQUAT_SEEN 1
        end
    else if test -z "$__ssh_anchor_dir"
        set __ssh_anchor_dir $tmp
    end
end
