/**
 * Exit status of `status` when no daemon runs, and of `service status` when the socket is not
 * installed or not listening: 3, as `systemctl status` exits for a unit that is not active, so
 * that scripts written for one read the other.
 */
export const EXIT_NOT_RUNNING = 3;
