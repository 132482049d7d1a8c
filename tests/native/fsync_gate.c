/* LD_PRELOAD shim: while the file named by $FSYNC_GATE exists, fsync/fdatasync wait for it to go.
   It makes a slow SD card at the lowest layer, under SQLite, without touching LedGrab's code.
   On entering the wait it creates $FSYNC_GATE_MARK so a test knows a sync is stuck. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static void wait_at_gate(void) {
    const char *gate = getenv("FSYNC_GATE");
    const char *mark = getenv("FSYNC_GATE_MARK");
    if (gate == NULL || access(gate, F_OK) != 0) return;
    if (mark != NULL) {
        int fd = open(mark, O_CREAT | O_WRONLY, 0644);
        if (fd >= 0) close(fd);
    }
    while (access(gate, F_OK) == 0) usleep(5000);
}

int fsync(int fd) {
    static int (*real)(int);
    if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    wait_at_gate();
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    wait_at_gate();
    return real(fd);
}
