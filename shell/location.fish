# Where ssh-anchor's private directory is (the same choice as src/core/location.ts and
# location.sh): the directory of $SSH_ANCHOR_SOCKET, else /tmp/ssh-anchor-$UID, else, when someone
# else got to that name first, ~/.ssh/anchor-<hostname>. Sets __ssh_anchor_dir (empty when there
# is none) and __ssh_anchor_squat (non-empty when the default is someone else's).
set -g __ssh_anchor_dir /tmp/ssh-anchor-(id -u)
set -g __ssh_anchor_squat
if test -n "$SSH_ANCHOR_SOCKET"
    if string match -q '/*' -- $SSH_ANCHOR_SOCKET
        set __ssh_anchor_dir (string replace -r '/[^/]*$' '' -- $SSH_ANCHOR_SOCKET)
    else
        printf 'ssh-anchor: SSH_ANCHOR_SOCKET must be an absolute path, not "%s"; SSH_AUTH_SOCK left as it was\n' $SSH_ANCHOR_SOCKET >&2
        set __ssh_anchor_dir
    end
else if test -e $__ssh_anchor_dir; or test -L $__ssh_anchor_dir
    # Ours only if a real directory owned by us: anything else is never looked into.
    if test -L $__ssh_anchor_dir; or not test -d $__ssh_anchor_dir; or not test -O $__ssh_anchor_dir
        set __ssh_anchor_squat $__ssh_anchor_dir
        set -l host
        test -r /proc/sys/kernel/hostname; and read host </proc/sys/kernel/hostname
        test -n "$host"; or set host (uname -n)
        if test -n "$host"; and not string match -q '*/*' -- $host; and string match -q '/*' -- "$HOME"
            set __ssh_anchor_dir $HOME/.ssh/anchor-$host
        else
            set __ssh_anchor_dir
        end
    end
end
