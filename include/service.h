/*
 * service.h - `cdrimport service install|uninstall|run`: the watch daemon
 * under Windows' service control manager (src/service_win.c; Windows
 * only: on Linux systemd runs `watch`, see systemd/cdrimport.service).
 */
#ifndef CDR_SERVICE_H
#define CDR_SERVICE_H

/* argv[0] is "service"; config_path is -c's (NULL: the usual search).
 * Returns the process exit status. */
int service_command(int argc, char **argv, const char *config_path);

#endif
