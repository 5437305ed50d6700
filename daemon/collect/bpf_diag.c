// SPDX-License-Identifier: Apache-2.0
/* bpf_diag: classify a failed BPF load from libbpf's own messages. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collect/bpf_diag.h"
#include "collect/probe.h"
#include "util/log.h"

/* What libbpf printed on this thread since the last reset: the tail of it,
 * so a long verifier log keeps its end (where the reason is). */
#define CAPTURE_MAX (512 * 1024)

static __thread char *cap;
static __thread size_t cap_len;
static __thread char explained[768];
static bool pass_through;
/* Frees a thread's capture when the thread ends (HTTP request threads). */
static pthread_key_t cap_key;
static pthread_once_t cap_once = PTHREAD_ONCE_INIT;

static void cap_key_init(void)
{
	(void)pthread_key_create(&cap_key, free);
}

static char *cap_alloc(void)
{
	char *b = malloc(CAPTURE_MAX);

	if (!b)
		return NULL;
	pthread_once(&cap_once, cap_key_init);
	(void)pthread_setspecific(cap_key, b);
	return b;
}

int bpf_diag__print(int level, const char *fmt, va_list ap)
{
	char line[4096];
	va_list copy;
	size_t n;
	int ret = 0;

	va_copy(copy, ap);
	n = (size_t)vsnprintf(line, sizeof(line), fmt, copy);
	va_end(copy);
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	if (pass_through)
		ret = vfprintf(stderr, fmt, ap);
	if (!cap && !(cap = cap_alloc()))
		return ret;
	if (n > CAPTURE_MAX / 2)
		n = CAPTURE_MAX / 2;
	if (cap_len + n + 1 > CAPTURE_MAX) {
		size_t drop = cap_len + n + 1 - CAPTURE_MAX + CAPTURE_MAX / 4;

		memmove(cap, cap + drop, cap_len - drop);
		cap_len -= drop;
	}
	memcpy(cap + cap_len, line, n);
	cap_len += n;
	cap[cap_len] = 0;
	(void)level;
	return ret;
}

static int print_cb(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return bpf_diag__print(level, fmt, ap);
}

void bpf_diag__install(bool verbose)
{
	pass_through = verbose;
	libbpf_set_print(print_cb);
}

void bpf_diag__reset(void)
{
	cap_len = 0;
	if (cap)
		cap[0] = 0;
}

/* Lines: an array of pointers into a copy of the text, "libbpf: " cut. */
struct lines {
	char *text;
	char **l;
	size_t n;
};

static int split(struct lines *ls, const char *log)
{
	size_t cap_n = 64;
	char *rest, *s;

	ls->n = 0;
	ls->text = strdup(log);
	ls->l = malloc(cap_n * sizeof(*ls->l));
	if (!ls->text || !ls->l)
		return -1;
	rest = ls->text;
	while ((s = strsep(&rest, "\n"))) {
		if (!strncmp(s, "libbpf: ", 8))
			s += 8;
		if (ls->n == cap_n) {
			char **m = realloc(ls->l, 2 * cap_n * sizeof(*ls->l));

			if (!m)
				return -1;
			ls->l = m;
			cap_n *= 2;
		}
		ls->l[ls->n++] = s;
	}
	return 0;
}

/* "prog 'NAME': ..." → NAME into out (empty when the line has none). */
static void prog_of(const char *line, char *out, size_t len)
{
	const char *p = strstr(line, "prog '"), *e;

	out[0] = 0;
	if (!p)
		return;
	p += 6;
	e = strchr(p, '\'');
	if (e && (size_t)(e - p) < len)
		snprintf(out, len, "%.*s", (int)(e - p), p);
}

/* "relo #7: " of a line, or NULL. */
static const char *relo_of(const char *line, int *num)
{
	const char *r = strstr(line, "relo #");

	if (!r || sscanf(r, "relo #%d:", num) != 1)
		return NULL;
	r = strchr(r, ':');
	return r ? r + 2 : NULL;
}

/* The field of a relocation descriptor "<byte_off> [96] struct T.f (0:0 @ offset 136)":
 * "struct T.f". */
static void field_of(const char *desc, char *out, size_t len)
{
	const char *p = strstr(desc, "] "), *e;

	out[0] = 0;
	if (!p)
		return;
	p += 2;
	e = strstr(p, " (");
	if (!e)
		e = p + strlen(p);
	snprintf(out, len, "%.*s", (int)(e - p), p);
}

/* A line of the verifier's instruction trace rather than its verdict. */
static bool trace_line(const char *s)
{
	const char *p = s;

	while (*p == ' ')
		p++;
	if (!*p || *p == ';' || !strncmp(p, "from ", 5) || !strncmp(p, "mark_precise", 12) ||
	    !strncmp(p, "last_idx", 8) || !strncmp(p, "regs=", 5) || !strncmp(p, "parent ", 7) ||
	    !strncmp(p, "Func#", 5) || !strncmp(p, "func#", 5) || !strncmp(p, "verification time", 17) ||
	    !strncmp(p, "stack depth", 11) || !strncmp(p, "processed ", 10))
		return true;
	while (*p >= '0' && *p <= '9')
		p++;
	return p != s && *p == ':';
}

static const char *explain_core(struct lines *ls, size_t fail, char *buf, size_t len)
{
	char prog[128] = "", field[256] = "", reason[256] = "";
	bool strong = false; /* reason is the complaint, not "failed to patch" */
	int num = -1, n;
	const char *r;
	size_t i;

	/* The relocation that failed: the last "prog 'X': relo #N:" line
	 * before the failure; its descriptor ("<kind> [id] struct T.field
	 * (...)") and its reason (not a candidate, not "failed to patch"). */
	for (i = fail; i-- > 0;)
		if (relo_of(ls->l[i], &num)) {
			prog_of(ls->l[i], prog, sizeof(prog));
			break;
		}
	for (i = 0; num >= 0 && i < fail; i++) {
		char p2[128];

		if (!(r = relo_of(ls->l[i], &n)) || n != num)
			continue;
		prog_of(ls->l[i], p2, sizeof(p2));
		if (strcmp(p2, prog))
			continue;
		if (*r == '<') {
			if (!field[0])
				field_of(r, field, sizeof(field));
		} else if (strstr(r, "matching candidate") || !strncmp(r, "patched ", 8)) {
			continue; /* libbpf's progress, not its complaint */
		} else if (!reason[0] || (!strong && !strstr(r, "failed to patch"))) {
			strong = !strstr(r, "failed to patch");
			snprintf(reason, sizeof(reason), "%s", r);
		}
	}
	snprintf(buf, len,
		 "libbpf refused program '%s' before the kernel saw it: CO-RE relocation of %s failed "
		 "(%s): this kernel's type of that field differs from the one profd was built "
		 "against",
		 prog[0] ? prog : "?", field[0] ? field : "a kernel field",
		 reason[0] ? reason : ls->l[fail]);
	return buf;
}

const char *bpf_diag__explain_text(const char *log, int err, char *buf, size_t len)
{
	struct lines ls = {};
	char prog[128] = "";
	size_t i, begin = (size_t)-1, end = 0;
	const char *ret = NULL;

	if (!log || !*log || split(&ls, log))
		goto fallback;
	for (i = 0; i < ls.n; i++) {
		if (strstr(ls.l[i], "failed to perform CO-RE relocations")) {
			ret = explain_core(&ls, i, buf, len);
			goto out;
		}
		if (strstr(ls.l[i], "-- BEGIN PROG LOAD LOG --") && begin == (size_t)-1) {
			begin = i;
			prog_of(ls.l[i], prog, sizeof(prog));
		}
		if (strstr(ls.l[i], "-- END PROG LOAD LOG --") && begin != (size_t)-1 && !end)
			end = i;
	}
	if (begin != (size_t)-1) {
		char reason[400] = "";
		size_t last = 0, prev = 0;

		if (!end)
			end = ls.n;
		for (i = begin + 1; i < end; i++) {
			const char *s = strstr(ls.l[i], "failed to resolve CO-RE relocation");

			if (s) {
				/* libbpf poisoned an instruction whose field this
				 * kernel lacks; the verifier met it. */
				snprintf(buf, len,
					 "libbpf could not relocate program '%s' for this kernel "
					 "(%s): the kernel's verifier then refused the unrelocated "
					 "instruction",
					 prog[0] ? prog : "?", s);
				ret = buf;
				goto out;
			}
			if (!trace_line(ls.l[i])) {
				prev = last;
				last = i;
			}
		}
		if (last) {
			if (prev && prev + 1 == last)
				snprintf(reason, sizeof(reason), "%s / %s", ls.l[prev], ls.l[last]);
			else
				snprintf(reason, sizeof(reason), "%s", ls.l[last]);
			snprintf(buf, len,
				 "the kernel's verifier refused program '%s' (%s): %s (profd -v prints "
				 "its whole log)",
				 prog[0] ? prog : "?", strerror(-err), reason);
			ret = buf;
			goto out;
		}
	}
	/* The kernel refused without a verifier log (permissions, a map). */
	for (i = ls.n; i-- > 0;) {
		if (strstr(ls.l[i], "BPF program load failed") || strstr(ls.l[i], "failed to create map") ||
		    strstr(ls.l[i], "Error in bpf_create_map")) {
			snprintf(buf, len, "the kernel refused it (%s): %s", ls.l[i], probe_explain(err));
			ret = buf;
			goto out;
		}
	}
fallback:
	snprintf(buf, len, "%s", probe_explain(err));
	ret = buf;
out:
	free(ls.text);
	free(ls.l);
	return ret;
}

const char *bpf_diag__explain(int err)
{
	return bpf_diag__explain_text(cap, err, explained, sizeof(explained));
}

void bpf_diag__request_stats(struct bpf_object *obj)
{
	struct bpf_program *prog;

	if (log_get_level() < LOG_LVL_DEBUG)
		return;
	/* BPF_LOG_STATS (4): the kernel's verifier reports its time and
	 * states, not its per-instruction trace (which costs more than the
	 * verification). A refusal still carries the verifier's message. */
	bpf_object__for_each_program(prog, obj)
		if (bpf_program__autoload(prog))
			bpf_program__set_log_level(prog, 4);
}

/* The number after key in the stats log libbpf printed for prog (in this
 * thread's capture since the last reset), or -1. */
static long long stat_of(const char *prog, const char *key)
{
	char head[160];
	const char *s, *end;

	if (!cap)
		return -1;
	snprintf(head, sizeof(head), "prog '%s': -- BEGIN PROG LOAD LOG --", prog);
	s = strstr(cap, head);
	if (!s)
		return -1;
	end = strstr(s, "-- END PROG LOAD LOG --");
	s = strstr(s + strlen(head), key);
	if (!s || (end && s > end))
		return -1;
	return strtoll(s + strlen(key), NULL, 10);
}

double bpf_diag__log_programs(struct bpf_object *obj)
{
	struct bpf_program *prog;
	double total_ms = 0;

	if (log_get_level() < LOG_LVL_DEBUG)
		return 0;
	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);
		const char *name = bpf_program__name(prog);
		long long usec = stat_of(name, "verification time "),
			  states = stat_of(name, " total_states "),
			  peak = stat_of(name, " peak_states ");

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		if (usec >= 0)
			total_ms += usec / 1e3;
		log_debug("start-up:   program %-24s %6zu insns, verifier walked %u, "
			  "%lld states (peak %lld), %.1f ms",
			  name, bpf_program__insn_cnt(prog), info.verified_insns, states, peak,
			  usec / 1e3);
	}
	return total_ms;
}
