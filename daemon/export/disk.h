/* SPDX-License-Identifier: Apache-2.0 */
/* disk: profiles on disk as <dir>/<process>/<pid>/<type>-<start>.pb.gz,
 * each written atomically (temporary file, fdatasync, rename), and retention
 * by age and total size, oldest first. A failed write (disk full included)
 * leaves nothing behind, is counted and returned; it never aborts.
 *
 * Writes come in batches (the agent's: a tick's profiles): staged by
 * disk_store__write() between disk_store__begin() and disk_store__commit(),
 * which fdatasyncs them (their writeback already under way), renames them,
 * then fsyncs each directory once. Outside a batch a write syncs and
 * renames at once, its directory synced at the next commit. What a crash
 * leaves: a profile committed, whole; staged, absent (a hidden temporary,
 * maybe partial, which retention removes after 10 minutes); renamed but
 * its directory not yet synced, whole or (power failure) absent. Never a
 * partial file under a profile's name. */
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
 * when the plain name is taken (N = 2.., up to DISK_MAX_CLASHES); such a
 * write is never staged. Returns 0 or -errno (-ENOSPC, -EDQUOT, -EEXIST
 * past DISK_MAX_CLASHES, ...); a staged write's later failures are the
 * commit's. */
int disk_store__write(struct disk_store *d, const char *process, int pid, const char *type,
		      int64_t start_ns, const void *data, size_t len, char *path_out,
		      size_t path_size);

/* Begin a batch: the writes until the next commit that pass no path_out
 * are staged (data written into a hidden temporary, writeback started)
 * and named at the commit. The agent's tick is one. NULL-safe. */
void disk_store__begin(struct disk_store *d);

/* End the batch: fdatasync and rename each staged profile (its failures
 * counted as the write's would be), then fsync once each directory that
 * got a file (or a directory) since the last commit, writes outside a
 * batch included. Also done by disk_store__free(), and by a write when
 * DISK_MAX_STAGED profiles are staged. NULL-safe. Returns 0 or the first
 * -errno (a failed directory sync undoes nothing: the files are whole and
 * in place). */
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
