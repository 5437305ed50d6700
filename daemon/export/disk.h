/* SPDX-License-Identifier: Apache-2.0 */
/* disk: profiles on disk as <dir>/<process>/<pid>/<type>-<start>.pb.gz,
 * each written atomically (temporary file, fdatasync, rename), and retention
 * by age and total size, oldest first. A failed write (disk full included)
 * leaves nothing behind, is counted and returned; it never aborts.
 *
 * Writes come in batches (the agent's: a tick's profiles): each write puts
 * a complete file under its name at once, and disk_store__commit() makes
 * the batch's renames durable with one fsync per directory. What a crash
 * leaves: a profile written and committed, whole; written, not committed
 * yet, whole or (power failure) absent; being written, absent (a hidden
 * temporary at most, which retention removes). Never a partial profile. */
#ifndef PROFD_DISK_H
#define PROFD_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISK_MAX_NAME 64        /* bytes of a sanitized process name */
#define DISK_MAX_CLASHES 100    /* "-2" .. "-100" tried when a name is taken */
#define DISK_MAX_FILES 1000000  /* files one retention pass considers */

struct disk_stats {
	uint64_t written;       /* profiles written */
	uint64_t bytes_written;
	uint64_t errors;        /* failed writes, ENOSPC included */
	uint64_t enospc;        /* of which the disk or quota was full */
	uint64_t removed;       /* files removed by retention */
	uint64_t bytes_used;    /* under dir, as of the last retention pass plus writes since */
	uint64_t files;         /* idem */
	uint64_t renamed;       /* written under a "-N" name: the plain one was taken */
	uint64_t dir_syncs;     /* directory fsyncs done by commits */
};

struct disk_store;

/* dir is created if missing. max_bytes, max_age_ns: 0 = no limit. Returns
 * NULL with errno set (EINVAL for an empty dir, or mkdir's errno). */
struct disk_store *disk_store__new(const char *dir, uint64_t max_bytes, uint64_t max_age_ns);
void disk_store__free(struct disk_store *d);

/* Write one gzipped profile of process (raw comm, sanitized here) pid (<= 0:
 * of the service named by process, as <dir>/<service>/<file>), type
 * ("cpu", ...), for the interval starting at start_ns (CLOCK_REALTIME). The
 * final path goes to path_out when it is not NULL: "<type>-<start>-N.pb.gz"
 * when the plain name is taken (N = 2.., up to DISK_MAX_CLASHES). Returns 0
 * or -errno (-ENOSPC, -EDQUOT, -EEXIST past DISK_MAX_CLASHES, ...). */
int disk_store__write(struct disk_store *d, const char *process, int pid, const char *type,
		      int64_t start_ns, const void *data, size_t len, char *path_out,
		      size_t path_size);

/* Make the writes since the last commit durable: fsync each directory
 * they renamed a file into (or made) once. Files are complete and in place
 * before; this only makes their names survive a power failure. Also done
 * by disk_store__free(). NULL-safe. Returns 0 or the first -errno (the
 * files stay; there is nothing to undo). */
int disk_store__commit(struct disk_store *d);

/* The path disk_store__write() would use, without writing. Returns 0 or
 * -ENAMETOOLONG. */
int disk_store__path(const struct disk_store *d, const char *process, int pid, const char *type,
		     int64_t start_ns, char *path, size_t size);

/* Apply retention at now_ns: delete profiles (files ending in .pb.gz two
 * levels down; nothing else is touched) older than max_age, then the oldest
 * until the total is at most max_bytes; directories emptied by that go too,
 * and so do temporary files a crash left behind. Returns the number of files
 * removed, or -errno if dir could not be read. */
int disk_store__retain(struct disk_store *d, int64_t now_ns);
/* Whether a retain at now_ns may remove anything: none ran yet, the last
 * one is 5 minutes old (files others removed or added, a crash's
 * temporaries), the profiles written since put the total over max_bytes,
 * or the oldest profile the last one kept is now older than max_age. A
 * retain scans every file of the store: each interval it was the agent's
 * steady cost growing with the files kept. */
bool disk_store__retain_due(const struct disk_store *d, int64_t now_ns);

const struct disk_stats *disk_store__stats(const struct disk_store *d);

#endif
