/*
 * sandbox-exec.c - run a command under the memory and socket rules of
 * labagent.service, without systemd.
 *
 *   sandbox-exec --self-test          prove the filter refuses what it must
 *   sandbox-exec -- COMMAND [ARG...]  exec COMMAND under the filter
 *
 * Why: CI machines do not run systemd as PID 1, so the unit's
 * MemoryDenyWriteExecute=yes and RestrictAddressFamilies= cannot be tried by
 * starting the service. This installs the same seccomp rules that systemd 252
 * (Debian 12) installs for them, then execs the command, exactly as systemd
 * does before it execs ExecStart=:
 *
 *   MemoryDenyWriteExecute=yes   mmap with PROT_WRITE|PROT_EXEC, mprotect and
 *                                pkey_mprotect with PROT_EXEC, shmat with
 *                                SHM_EXEC fail with EPERM
 *   RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
 *                                socket() of any other family fails with
 *                                EAFNOSUPPORT
 *
 * (systemd 252 uses seccomp for MemoryDenyWriteExecute=; later versions may
 * use prctl(PR_SET_MDWE), which is less strict.) System calls of another
 * architecture are refused, as with SystemCallArchitectures=native.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define LAB_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define LAB_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "sandbox-exec: add this architecture's AUDIT_ARCH"
#endif

#define LAB_ARG_LO(i)    (offsetof(struct seccomp_data, args) + 8 * (i)) /* little endian */
#define LAB_RET_ERRNO(e) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((e)&SECCOMP_RET_DATA))
#define LAB_ALLOW        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

/* Install the filter described at the top of the file. Returns 0 or -errno. */
static int lab_sandbox_install(void)
{
        struct sock_filter f[] = {
            /* [0] other architectures: refused */
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, LAB_AUDIT_ARCH, 1, 0),
            LAB_RET_ERRNO(EPERM),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            /* [4] dispatch */
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 5, 0),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mprotect, 9, 0),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pkey_mprotect, 8, 0),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_shmat, 11, 0),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 14, 0),
            LAB_ALLOW,
            /* [10] mmap: prot has both WRITE and EXEC */
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, LAB_ARG_LO(2)),
            BPF_STMT(BPF_ALU | BPF_AND | BPF_K, PROT_WRITE | PROT_EXEC),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PROT_WRITE | PROT_EXEC, 0, 1),
            LAB_RET_ERRNO(EPERM),
            LAB_ALLOW,
            /* [15] mprotect, pkey_mprotect: prot has EXEC */
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, LAB_ARG_LO(2)),
            BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 0, 1),
            LAB_RET_ERRNO(EPERM),
            LAB_ALLOW,
            /* [19] shmat: shmflg has SHM_EXEC */
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, LAB_ARG_LO(2)),
            BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, SHM_EXEC, 0, 1),
            LAB_RET_ERRNO(EPERM),
            LAB_ALLOW,
            /* [23] socket: family AF_UNIX, AF_INET or AF_INET6 */
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, LAB_ARG_LO(0)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 3, 0),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET, 2, 0),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 1, 0),
            LAB_RET_ERRNO(EAFNOSUPPORT),
            LAB_ALLOW,
        };
        struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};

        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
                return -errno;
        return 0;
}

/* Report one self-test expectation; returns 0 when met, 1 when not. */
static int lab_expect(const char *what, int ok_errno, int got_errno)
{
        if (got_errno == ok_errno) {
                printf("ok: %s (%s)\n", what, ok_errno ? strerror(ok_errno) : "allowed");
                return 0;
        }
        printf("FAIL: %s: expected %s, got %s\n", what, ok_errno ? strerror(ok_errno) : "success",
               got_errno ? strerror(got_errno) : "success");
        return 1;
}

/* errno of a socket() call (0 when it succeeded; the socket is closed). */
static int lab_socket_errno(int family, int type)
{
        int fd = socket(family, type | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return errno;
        close(fd);
        return 0;
}

/* Install the filter, then check that it refuses and allows what it must. */
static int lab_self_test(void)
{
        long page = sysconf(_SC_PAGESIZE);
        int failed = 0, r;
        void *p;

        r = lab_sandbox_install();
        if (r < 0) {
                fprintf(stderr, "sandbox-exec: cannot install the filter: %s\n", strerror(-r));
                return 1;
        }
        p = mmap(NULL, page, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                 0);
        failed +=
            lab_expect("mmap(PROT_WRITE|PROT_EXEC) refused", EPERM, p == MAP_FAILED ? errno : 0);
        p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        failed += lab_expect("mmap(PROT_READ|PROT_WRITE) allowed", 0, p == MAP_FAILED ? errno : 0);
        if (p != MAP_FAILED) {
                r = mprotect(p, page, PROT_READ | PROT_EXEC);
                failed += lab_expect("mprotect(PROT_EXEC) refused", EPERM, r < 0 ? errno : 0);
                r = mprotect(p, page, PROT_READ);
                failed += lab_expect("mprotect(PROT_READ) allowed", 0, r < 0 ? errno : 0);
                munmap(p, page);
        }
        failed += lab_expect("socket(AF_NETLINK) refused", EAFNOSUPPORT,
                             lab_socket_errno(AF_NETLINK, SOCK_RAW));
        failed += lab_expect("socket(AF_PACKET) refused", EAFNOSUPPORT,
                             lab_socket_errno(AF_PACKET, SOCK_DGRAM));
        failed += lab_expect("socket(AF_INET) allowed", 0, lab_socket_errno(AF_INET, SOCK_STREAM));
        failed +=
            lab_expect("socket(AF_INET6) allowed", 0, lab_socket_errno(AF_INET6, SOCK_STREAM));
        failed += lab_expect("socket(AF_UNIX) allowed", 0, lab_socket_errno(AF_UNIX, SOCK_DGRAM));
        return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
        int r;

        if (argc == 2 && strcmp(argv[1], "--self-test") == 0)
                return lab_self_test();
        if (argc < 3 || strcmp(argv[1], "--") != 0) {
                fprintf(stderr, "usage: sandbox-exec --self-test\n"
                                "       sandbox-exec -- COMMAND [ARG...]\n");
                return 2;
        }
        r = lab_sandbox_install();
        if (r < 0) {
                fprintf(stderr, "sandbox-exec: cannot install the filter: %s\n", strerror(-r));
                return 1;
        }
        execvp(argv[2], argv + 2);
        fprintf(stderr, "sandbox-exec: cannot run %s: %s\n", argv[2], strerror(errno));
        return 127;
}
