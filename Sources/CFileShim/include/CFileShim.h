// CFileShim: Linux file calls Swift's Glibc module does not import (they need _GNU_SOURCE): swapping two names,
// listing extended attributes, telling whether anyone else holds a file open. They let a rewrite write a replaced
// post's file again instead of creating a new one (PostFile.Spares). Also glibc's mallopt and malloc_trim
// (malloc.h, which the Glibc module leaves out): how malloc keeps memory on a long run over a big site.
#ifndef CFILESHIM_H
#define CFILESHIM_H

/// Swaps the files at `a` and `b` in one step (`renameat2` with `RENAME_EXCHANGE`): both must exist, on one file
/// system. 0, or -1 with errno set (EINVAL or ENOSYS where the file system or kernel cannot).
int CFileShim_exchange(const char *a, const char *b);

/// 1 when the file open as `fd` has no extended attributes (ACLs, security labels, user tags), 0 otherwise or when
/// that cannot be read.
int CFileShim_noExtendedAttributes(int fd);

/// 1 when `fd` is the only open file description of its file in any process (Linux grants a write lease only
/// then: the lease is taken and given back at once), 0 otherwise or when no lease can be taken (another owner's
/// file, leases disabled). A lease broken in between would send SIGIO, whose default action ends the process: the
/// first call ignores SIGIO unless the program handles it.
int CFileShim_aloneOpen(int fd);

/// Caps how many arenas glibc's malloc makes (`mallopt(M_ARENA_MAX, max)`): 1 when set, 0 when not.
int CFileShim_limitMallocArenas(int max);

/// Fixes the size from which glibc's malloc maps each block on its own and unmaps it when freed
/// (`mallopt(M_MMAP_THRESHOLD, bytes)`; a fixed value also stops glibc from raising it): 1 when set, 0 when not.
int CFileShim_fixMallocMapThreshold(int bytes);

/// Gives the free pages of malloc's heaps back to the system (`malloc_trim(0)`): 1 when some were, 0 otherwise.
int CFileShim_trimMalloc(void);

#endif
