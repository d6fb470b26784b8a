#define _GNU_SOURCE
#include "CFileShim.h"

#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/xattr.h>

int CFileShim_exchange(const char *a, const char *b) {
    return renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
}

int CFileShim_noExtendedAttributes(int fd) { return flistxattr(fd, NULL, 0) == 0; }

static pthread_once_t sigioOnce = PTHREAD_ONCE_INIT;

static void ignoreSIGIO(void) {
    struct sigaction current;
    if (sigaction(SIGIO, NULL, &current) == 0 && current.sa_handler == SIG_DFL) signal(SIGIO, SIG_IGN);
}

int CFileShim_aloneOpen(int fd) {
    pthread_once(&sigioOnce, ignoreSIGIO);
    if (fcntl(fd, F_SETLEASE, F_WRLCK) != 0) return 0;
    fcntl(fd, F_SETLEASE, F_UNLCK);
    return 1;
}

int CFileShim_limitMallocArenas(int max) { return mallopt(M_ARENA_MAX, max); }

int CFileShim_fixMallocMapThreshold(int bytes) { return mallopt(M_MMAP_THRESHOLD, bytes); }

int CFileShim_trimMalloc(void) { return malloc_trim(0); }
