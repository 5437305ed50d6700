/* SPDX-License-Identifier: Apache-2.0 */
/* pprof: builds one profile.proto in memory and writes it gzipped.
 *
 * The builder is also the aggregator: identical samples (same location ids
 * and same labels) are merged by adding their values, mappings are
 * deduplicated on (start, limit, offset, filename, build id), functions on
 * (name, system name, filename, start line) and locations on
 * (mapping id, address). Ids are 1..N in insertion order, as Go and Parca
 * expect. Every string passed in is copied; callers keep ownership.
 *
 * Int-returning functions return 0 or -errno; id-returning ones return the
 * non-zero id, or 0 with errno set (ENOMEM, EINVAL).
 *
 * Int-returning functions set errno as well (libbpf style). After ENOMEM
 * the builder holds everything it held before (plus, at most, unreferenced
 * interned entries: a string may appear unused in the string table), so the
 * call can be retried, or the builder encoded or freed. Each kind of entry is
 * capped at 2^30 (E2BIG past that). Not thread-safe: one builder per thread,
 * or lock around it.
 */
#ifndef PROFD_PPROF_H
#define PROFD_PPROF_H

#include <stddef.h>
#include <stdint.h>

struct pprof;

/* Mapping flags, OR-ed into a mapping by pprof__mapping_mark(). */
enum {
	PPROF_HAS_FUNCTIONS = 1 << 0,
	PPROF_HAS_FILENAMES = 1 << 1,
	PPROF_HAS_LINE_NUMBERS = 1 << 2,
	PPROF_HAS_INLINE_FRAMES = 1 << 3,
};

struct pprof_mapping {
	uint64_t start;        /* memory_start, verbatim from /proc/PID/maps */
	uint64_t limit;        /* memory_limit (exclusive) */
	uint64_t offset;       /* file_offset */
	const char *filename;  /* NULL or "" allowed */
	const char *build_id;  /* lowercase hex, NULL or "" when unknown */
};

/* One frame of an inline chain; a Location holds [innermost .. physical]. */
struct pprof_line {
	uint64_t function_id;
	int64_t line;          /* 0 when unknown */
};

/* A label is either a string (str != NULL) or a number (str == NULL). */
struct pprof_label {
	const char *key;
	const char *str;
	int64_t num;
	const char *num_unit;  /* NULL: none */
};

struct pprof *pprof__new(void);
void pprof__free(struct pprof *p);

/* Header. Sample types must all be added before the first sample. */
int pprof__add_sample_type(struct pprof *p, const char *type, const char *unit);
int pprof__set_period(struct pprof *p, const char *type, const char *unit, int64_t period);
int pprof__set_default_sample_type(struct pprof *p, const char *type);
void pprof__set_time(struct pprof *p, int64_t time_nanos, int64_t duration_nanos);
int pprof__add_comment(struct pprof *p, const char *comment);

uint64_t pprof__mapping(struct pprof *p, const struct pprof_mapping *m);
int pprof__mapping_mark(struct pprof *p, uint64_t mapping_id, unsigned flags);
uint64_t pprof__function(struct pprof *p, const char *name, const char *system_name,
			 const char *filename, int64_t start_line);
/* mapping_id 0 = no mapping. nlines may be 0 (address only). Deduplicated on
 * (mapping_id, address): the lines given the first time win. */
uint64_t pprof__location(struct pprof *p, uint64_t mapping_id, uint64_t address,
			 const struct pprof_line *lines, size_t nlines);
/* The id of the location (mapping_id, address) if there is one, else 0: a
 * caller can skip making its functions (their strings hashed and
 * compared), which pprof__location() would not use. */
uint64_t pprof__location_find(const struct pprof *p, uint64_t mapping_id, uint64_t address);

/* Give lines to the locations of mapping_id added without any (their
 * frames named later, e.g. kernel frames at the end of a one-shot run):
 * fn fills up to cap lines for address (functions from pprof__function)
 * and returns how many, 0 to leave it bare. 0 or -errno (-EINVAL for a
 * line with an unknown function). */
#define PPROF_MAX_FILL_LINES 32
typedef size_t (*pprof_lines_fn)(void *ctx, uint64_t address, struct pprof_line *lines,
				 size_t cap);
int pprof__fill_locations(struct pprof *p, uint64_t mapping_id, pprof_lines_fn fn, void *ctx);
/* Set a mapping's range after its last pprof__mapping() lookup (a later
 * lookup with the old range would add another). 0 or -EINVAL. */
int pprof__mapping_set_range(struct pprof *p, uint64_t mapping_id, uint64_t start, uint64_t limit);

/* locs[0] is the leaf. values has one entry per sample type. Returns
 * -EINVAL if no sample type was set or a location id is unknown. */
int pprof__add_sample(struct pprof *p, const uint64_t *locs, size_t nlocs,
		      const int64_t *values, const struct pprof_label *labels,
		      size_t nlabels);

size_t pprof__sample_count(const struct pprof *p);   /* distinct samples */
int64_t pprof__value_total(const struct pprof *p, size_t type_index);

/* Serialize and gzip. *buf is malloc'ed and owned by the caller. */
int pprof__encode(const struct pprof *p, uint8_t **buf, size_t *len);

/* Write the gzipped profile to path atomically: a temporary file in the same
 * directory, fsync, rename. On failure nothing is left at path or beside it.
 * The temporary is ".<name>.XXXXXX" (so *.pb.gz globs skip it) and the
 * file is mode 0600, as mkostemp() creates it. An existing file is replaced. */
int pprof__write_file(const struct pprof *p, const char *path);

#endif
