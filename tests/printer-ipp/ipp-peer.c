/*
 * ipp-peer.c - start and stop the real IPP peers the IPP driver tests use.
 *
 * Why: see ipp-peer.h. Every wait here is bounded in count and time; a peer
 * that does not come up aborts the test with its log on stderr.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipp-peer.h"
#include "macro.h"
#include "testutil.h"

const char ipp_peer_photo_conf[] =
    "ATTR mimeMediaType document-format-supported image/jpeg,image/pwg-raster,image/urf\n"
    "ATTR keyword media-supported na_index-4x6_4x6in,na_5x7_5x7in\n"
    "ATTR keyword media-default na_index-4x6_4x6in\n"
    "ATTR keyword media-ready na_index-4x6_4x6in\n"
    "ATTR keyword media-type-supported photographic-glossy,photographic-matte\n"
    "ATTR keyword media-type-default photographic-glossy\n"
    "ATTR boolean color-supported true\n"
    "ATTR keyword print-color-mode-supported auto,color,monochrome\n"
    "ATTR keyword print-color-mode-default color\n"
    "ATTR resolution printer-resolution-supported 300dpi\n"
    "ATTR resolution printer-resolution-default 300dpi\n"
    /* Borderless photo media: CUPS' ipp backend sends the PPD's margins in media-col, and
       ippeveprinter checks a media-col's size against media-size-supported. */
    "ATTR integer media-bottom-margin-supported 0\n"
    "ATTR integer media-left-margin-supported 0\n"
    "ATTR integer media-right-margin-supported 0\n"
    "ATTR integer media-top-margin-supported 0\n"
    "ATTR collection media-size-supported "
    "{ MEMBER integer x-dimension 10160 MEMBER integer y-dimension 15240 },"
    "{ MEMBER integer x-dimension 12700 MEMBER integer y-dimension 17780 }\n"
    "ATTR collection media-col-database "
    "{ MEMBER collection media-size { MEMBER integer x-dimension 10160 MEMBER integer y-dimension "
    "15240 } MEMBER integer media-bottom-margin 0 MEMBER integer media-left-margin 0 MEMBER "
    "integer "
    "media-right-margin 0 MEMBER integer media-top-margin 0 },"
    "{ MEMBER collection media-size { MEMBER integer x-dimension 12700 MEMBER integer y-dimension "
    "17780 } MEMBER integer media-bottom-margin 0 MEMBER integer media-left-margin 0 MEMBER "
    "integer "
    "media-right-margin 0 MEMBER integer media-top-margin 0 }\n"
    /* What CUPS needs to make an everywhere PPD (ppd-cache.c, _ppdCreateFromIPP). */
    "ATTR resolution pwg-raster-document-resolution-supported 300dpi\n"
    "ATTR keyword pwg-raster-document-type-supported srgb_8\n"
    "ATTR keyword urf-supported V1.4,CP1,W8,SRGB24,RS300\n"
    "ATTR text printer-make-and-model \"DNP DS620 (labagent test)\"\n"
    "ATTR name marker-names \"4x6 glossy ribbon\"\n"
    "ATTR keyword marker-types ribbon-wax\n"
    "ATTR name marker-colors \"#FFFFFF\"\n"
    "ATTR integer marker-levels 80\n"
    "ATTR text marker-message \"310 native prints remaining\"\n"
    "ATTR octetString printer-supply "
    "\"index=1;class=supplyThatIsConsumed;type=ribbonWax;unit=percent;maxcapacity=100;level=80;"
    "colorantname=multi-color;\"\n"
    "ATTR text printer-supply-description \"4x6 ribbon\"\n"
    "ATTR keyword media-source-supported main\n"
    "ATTR octetString printer-input-tray "
    "\"type=sheetFeedAutoNonRemovableTray;mediafeed=0;mediaxfeed=0;maxcapacity=700;level=700;"
    "status=0;name=main;\"\n"
    "ATTR collection media-col-ready { MEMBER collection media-size { MEMBER integer x-dimension "
    "10160 MEMBER integer y-dimension 15240 } MEMBER keyword media-size-name na_index-4x6_4x6in "
    "MEMBER keyword media-source main MEMBER keyword media-type photographic-glossy }\n";

const char ipp_peer_job_script[] =
    "#!/bin/sh\n"
    "# labagent IPP driver tests: what the printer does depends on the job name.\n"
    "case \"$1\" in\n"
    "*hang*) sleep 30 ;;\n"
    "*slow*) sleep 3 ;;\n"
    "*empty*)\n"
    "        echo 'STATE: +media-empty-error' >&2\n"
    "        echo 'ERROR: Ribbon end' >&2\n"
    "        exit 1 ;;\n"
    "*supply40*)\n"
    "        echo 'ATTR: printer-supply=index=1;class=supplyThatIsConsumed;type=ribbonWax;"
    "unit=percent;maxcapacity=100;level=40;colorantname=multi-color;' >&2\n"
    "        echo 'ATTR: marker-levels=40' >&2\n"
    "        echo \"ATTR: marker-message='155 native prints remaining'\" >&2 ;;\n"
    "esac\n"
    "exit 0\n";

/* Monotonic milliseconds. */
static long long now_ms(void)
{
        return lab_test_now_ms();
}

int ipp_peer_free_port(void)
{
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
            getsockname(fd, (struct sockaddr *)&a, &len) < 0)
                abort();
        port = ntohs(a.sin_port);
        close(fd);
        return port;
}

bool ipp_peer_port_open(int port)
{
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok;

        if (fd < 0)
                return false;
        ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        return ok;
}

/* fork+exec argv in its own process group, output to log; returns the pid. */
static pid_t spawn(char *const argv[], const char *log, bool own_group)
{
        pid_t pid = fork();

        if (pid < 0)
                abort();
        if (pid == 0) {
                if (own_group)
                        setpgid(0, 0);
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (log) {
                        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                        if (fd >= 0) {
                                dup2(fd, 1);
                                dup2(fd, 2);
                        }
                }
                signal(SIGPIPE, SIG_DFL);
                execvp(argv[0], argv);
                _exit(127);
        }
        if (own_group)
                setpgid(pid, pid);
        return pid;
}

int ipp_peer_run(char *const argv[], const char *log, int timeout_ms)
{
        pid_t pid = spawn(argv, log, true);
        long long end = now_ms() + timeout_ms;
        int status;

        while (now_ms() < end) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid)
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                usleep(20000);
        }
        kill(-pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
}

/* Print a peer's log to stderr (for a peer that failed). */
static void dump_log(const char *dir, const char *name)
{
        char *path = lab_test_path(dir, name);
        char *text = lab_test_read_file(path, NULL);

        fprintf(stderr, "---- %s ----\n%s\n----\n", path, text ? text : "(none)");
        free(text);
        free(path);
}

/* Wait up to ms for the peer's port to accept connections; abort with its log otherwise. */
static void wait_port(ipp_peer_t *peer, const char *log, int ms)
{
        long long end = now_ms() + ms;
        int status;

        while (now_ms() < end) {
                if (ipp_peer_port_open(peer->port))
                        return;
                if (waitpid(peer->pid, &status, WNOHANG) == peer->pid) {
                        fprintf(stderr, "peer %s exited before listening\n", peer->name);
                        peer->pid = 0;
                        dump_log(peer->dir, log);
                        abort();
                }
                usleep(20000);
        }
        fprintf(stderr, "peer %s did not listen on %d within %d ms\n", peer->name, peer->port, ms);
        dump_log(peer->dir, log);
        abort();
}

void ipp_peer_start_eve(ipp_peer_t *peer, const char *name)
{
        char *conf, *script, *log, port[16];

        *peer = (ipp_peer_t){0};
        peer->dir = lab_test_mkdtemp("ippeve");
        peer->spool = lab_test_path(peer->dir, "spool");
        if (mkdir(peer->spool, 0755) < 0)
                abort();
        conf = lab_test_path(peer->dir, "photo.conf");
        script = lab_test_path(peer->dir, "job.sh");
        log = lab_test_path(peer->dir, "eve.log");
        lab_test_write_string(conf, ipp_peer_photo_conf);
        lab_test_write_string(script, ipp_peer_job_script);
        chmod(script, 0755);
        chmod(peer->dir, 0755);
        peer->port = ipp_peer_free_port();
        snprintf(port, sizeof port, "%d", peer->port);
        snprintf(peer->name, sizeof peer->name, "%s", name);
        snprintf(peer->uri, sizeof peer->uri, "ipp://localhost:%d/ipp/print", peer->port);
        char *argv[] = {
            "ippeveprinter", "-r", "off",       "-n", "localhost",  "-p", port, "-a", conf, "-c",
            script,          "-d", peer->spool, "-k", (char *)name, NULL};
        peer->pid = spawn(argv, log, true);
        wait_port(peer, "eve.log", 10000);
        free(conf);
        free(script);
        free(log);
}

/* mkdir path owned by lp (mode 0755). */
static void mkdir_lp(const char *path)
{
        struct passwd *lp = getpwnam("lp");

        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                abort();
        if (!lp || chown(path, lp->pw_uid, lp->pw_gid) < 0)
                abort();
}

void ipp_peer_start_cupsd(ipp_peer_t *peer, const char *queue, const char *printer_uri)
{
        ipp_peer_start_cupsd_driver(peer, queue, printer_uri, "everywhere", NULL, NULL);
}

void ipp_peer_start_cupsd_driver(ipp_peer_t *peer, const char *queue, const char *device_uri,
                                 const char *model, const char *const *options,
                                 const char *const *env)
{
        char *etc, *conf, *files, *log, *p, *s;
        const char *subdirs[] = {"run", "spool", "cache", "state", "log", "tmp", "spool/tmp"};
        char hostport[64];

        *peer = (ipp_peer_t){0};
        peer->dir = lab_test_mkdtemp("cupsd");
        chmod(peer->dir, 0755);
        etc = lab_test_path(peer->dir, "etc");
        if (mkdir(etc, 0755) < 0)
                abort();
        for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
                p = lab_test_path(peer->dir, subdirs[i]);
                mkdir_lp(p);
                free(p);
        }
        peer->spool = lab_test_path(peer->dir, "spool");
        peer->port = ipp_peer_free_port();
        snprintf(peer->name, sizeof peer->name, "cupsd");
        snprintf(peer->uri, sizeof peer->uri, "ipp://localhost:%d/printers/%s", peer->port, queue);

        conf = lab_test_path(etc, "cupsd.conf");
        if (asprintf(&s,
                     "Listen 127.0.0.1:%d\n"
                     "Listen %s/run/cups.sock\n"
                     "LogLevel debug\n"
                     "MaxLogSize 0\n"
                     "IdleExitTimeout 0\n"
                     "PreserveJobHistory Yes\n"
                     "PreserveJobFiles No\n"
                     "Browsing No\n"
                     "DefaultAuthType None\n"
                     "<Location />\n  Order allow,deny\n  Allow localhost\n</Location>\n"
                     "<Location /admin>\n  Order allow,deny\n  Allow localhost\n</Location>\n"
                     "<Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n"
                     "</Policy>\n",
                     peer->port, peer->dir) < 0)
                abort();
        lab_test_write_string(conf, s);
        free(s);
        files = lab_test_path(etc, "cups-files.conf");
        if (asprintf(&s,
                     "User lp\nGroup lp\nFileDevice Yes\n"
                     "ServerRoot %1$s/etc\nRequestRoot %1$s/spool\nCacheDir %1$s/cache\n"
                     "StateDir %1$s/state\nTempDir %1$s/tmp\nAccessLog %1$s/log/access_log\n"
                     "ErrorLog %1$s/log/error_log\nPageLog %1$s/log/page_log\n",
                     peer->dir) < 0)
                abort();
        for (size_t i = 0; env && env[i]; i++) {
                char *more;

                if (asprintf(&more, "%sSetEnv %s\n", s, env[i]) < 0)
                        abort();
                free(s);
                s = more;
        }
        lab_test_write_string(files, s);
        free(s);
        chmod(conf, 0644);
        chmod(files, 0644);
        p = lab_test_path(etc, "ppd");
        mkdir_lp(p);
        free(p);

        log = lab_test_path(peer->dir, "cupsd.out");
        char *argv[] = {"cupsd", "-f", "-c", conf, "-s", files, NULL};
        peer->pid = spawn(argv, log, true);
        wait_port(peer, "cupsd.out", 10000);

        snprintf(hostport, sizeof hostport, "localhost:%d", peer->port);
        char *lpadmin[32] = {"lpadmin", "-h", hostport,           "-p", (char *)queue,
                             "-E",      "-v", (char *)device_uri, "-m", (char *)model};
        for (size_t i = 0, n = 10; options && options[i] && n + 3 < ELEMENTSOF(lpadmin); i++) {
                lpadmin[n++] = "-o";
                lpadmin[n++] = (char *)options[i];
        }
        if (ipp_peer_run(lpadmin, log, 20000) != 0) {
                fprintf(stderr, "lpadmin failed for queue %s -> %s\n", queue, device_uri);
                dump_log(peer->dir, "cupsd.out");
                dump_log(peer->dir, "log/error_log");
                abort();
        }
        free(etc);
        free(conf);
        free(files);
        free(log);
}

/* Wait up to ms for pid to exit; true if it did. */
static bool reap(pid_t pid, int ms)
{
        long long end = now_ms() + ms;
        int status;

        while (now_ms() < end) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid || (r < 0 && errno == ECHILD))
                        return true;
                usleep(20000);
        }
        return false;
}

void ipp_peer_crash(ipp_peer_t *peer)
{
        if (peer->pid <= 0)
                return;
        kill(peer->pid, SIGKILL);
        reap(peer->pid, 5000);
}

void ipp_peer_restart(ipp_peer_t *peer, bool crash)
{
        char *conf = lab_test_path(peer->dir, "etc/cupsd.conf");
        char *files = lab_test_path(peer->dir, "etc/cups-files.conf");
        char *eve_conf = lab_test_path(peer->dir, "photo.conf");
        char *script = lab_test_path(peer->dir, "job.sh");
        bool cupsd = access(conf, F_OK) == 0;
        const char *log_name = cupsd ? "cupsd.out" : "eve.log";
        char *log = lab_test_path(peer->dir, log_name), port[16];

        if (peer->pid > 0) {
                kill(-peer->pid, crash ? SIGKILL : SIGTERM);
                if (!reap(peer->pid, 5000)) {
                        kill(-peer->pid, SIGKILL);
                        reap(peer->pid, 5000);
                }
                kill(-peer->pid, SIGKILL); /* job scripts left behind */
        }
        snprintf(port, sizeof port, "%d", peer->port);
        if (cupsd) {
                char *argv[] = {"cupsd", "-f", "-c", conf, "-s", files, NULL};
                peer->pid = spawn(argv, log, true);
        } else {
                char *argv[] = {
                    "ippeveprinter", "-r", "off",  "-n", "localhost", "-p", port,       "-a",
                    eve_conf,        "-c", script, "-d", peer->spool, "-k", peer->name, NULL};
                peer->pid = spawn(argv, log, true);
        }
        wait_port(peer, log_name, 10000);
        free(conf);
        free(files);
        free(eve_conf);
        free(script);
        free(log);
}

void ipp_peer_stop(ipp_peer_t *peer)
{
        if (peer->pid > 0) {
                kill(-peer->pid, SIGCONT);
                kill(-peer->pid, SIGTERM);
                if (!reap(peer->pid, 3000)) {
                        kill(-peer->pid, SIGKILL);
                        reap(peer->pid, 3000);
                }
                kill(-peer->pid, SIGKILL); /* job scripts left behind by a crash */
                peer->pid = 0;
        }
        if (peer->dir && !getenv("LAB_TEST_KEEP"))
                lab_test_rm_rf(peer->dir);
        free(peer->dir);
        free(peer->spool);
        peer->dir = peer->spool = NULL;
}

int ipp_peer_http_get(int port, const char *path)
{
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), code = -1;
        char req[1024], buf[4096], status[64] = "";
        size_t used = 0;
        long long end = now_ms() + 5000;

        if (fd < 0)
                return -1;
        if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
                goto out;
        snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n\r\n", path, port);
        if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
                goto out;
        while (now_ms() < end) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                ssize_t n;
                if (poll(&pfd, 1, 200) <= 0)
                        continue;
                n = read(fd, buf + used, sizeof buf - 1 - used);
                if (n <= 0)
                        break;
                used += (size_t)n;
                buf[used] = '\0';
                if (!status[0])
                        snprintf(status, sizeof status, "%.63s", buf);
                /* ippeveprinter applies a form while it writes the page, and keeps the
                   connection open: read up to the end of the page. */
                if (strstr(buf, "</html>") || strstr(buf, "</HTML>"))
                        break;
                if (used + 1 >= sizeof buf) { /* keep a tail: "</html>" may straddle */
                        memmove(buf, buf + used - 16, 16);
                        used = 16;
                }
        }
        if (sscanf(status, "HTTP/%*d.%*d %d", &code) != 1)
                code = -1;
out:
        close(fd);
        return code;
}

void ipp_peer_make_jpeg(const char *path, int w, int h)
{
        char ws[16], hs[16];

        snprintf(ws, sizeof ws, "%d", w);
        snprintf(hs, sizeof hs, "%d", h);
        char *argv[] = {"vips", "gaussnoise", (char *)path, ws, hs, NULL};
        if (ipp_peer_run(argv, NULL, 20000) != 0) {
                fprintf(stderr, "vips gaussnoise %s failed\n", path);
                abort();
        }
}

char *ipp_peer_find_file(const char *dir, const char *prefix)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        char *found = NULL;

        if (!d)
                return NULL;
        while (!found && (e = readdir(d)))
                if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
                        found = lab_test_path(dir, e->d_name);
        closedir(d);
        return found;
}

lab_config_printer_t ipp_peer_config(const char *name, const char *uri, unsigned timeout_ms)
{
        return (lab_config_printer_t){
            .name = (char *)name,
            .driver = LAB_PRINTER_DRIVER_IPP,
            .uri = (char *)uri,
            .enabled = true,
            .weight = 1.0,
            .timeout = (uint64_t)timeout_ms * 1000ULL,
            .stall_after = 600ULL * 1000000ULL,
            .print_quality = LAB_PRINT_QUALITY_HIGH,
        };
}
