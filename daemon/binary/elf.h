/* SPDX-License-Identifier: Apache-2.0 */
/* elf: the one reader of ELF symbol tables and program headers. An
 * elf_image is one parsed ELF file (function symbols, GNU build id, PT_LOAD
 * segments), read once through libelf and then held without any fd or
 * libelf handle; immutable after parsing, so one image can serve every
 * process that maps the file. Besides .symtab (or .dynsym) functions it
 * holds "target@plt" for each x86-64 PLT stub whose GOT slot a relocation
 * binds to a dynamic symbol. elf_symtab__each_func() and elf_read_loads()
 * are the same walks for readers that hold their own libelf handle (the
 * heap collector's allocator finder, the unwind table builders). */
#ifndef PROFD_BINARY_ELF_H
#define PROFD_BINARY_ELF_H

#include <libelf.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds that make a hostile or absurd file cost at most ~200 MB. */
#define ELF_IMAGE_MAX_SYMS (4u << 20)
#define ELF_IMAGE_MAX_NAME 65535      /* longer names are truncated (Pyroscope's limit) */
#define ELF_IMAGE_MAX_NAMES (256u << 20) /* bytes of names kept per file */
#define ELF_IMAGE_MAX_LOADS 64
#define ELF_IMAGE_MAX_BUILD_ID 64     /* bytes; GNU ld writes 20, lld --build-id=fast 8 */
#define ELF_IMAGE_MAX_DEBUGLINK 256   /* .gnu_debuglink file name, NUL included */

/* Sections that say where else names and lines may be found. */
enum {
	ELF_IMAGE_DEBUG_INFO = 1 << 0, /* .debug_info (or .zdebug_info) with content */
	ELF_IMAGE_SYMTAB = 1 << 1,     /* .symtab with content */
	ELF_IMAGE_DEBUGDATA = 1 << 2,  /* .gnu_debugdata: MiniDebugInfo (xz ELF) */
	ELF_IMAGE_GOPCLNTAB = 1 << 3,  /* .gopclntab: Go's function table */
	ELF_IMAGE_DEBUGLINK = 1 << 4,  /* a well-formed .gnu_debuglink */
};

/* elf_image__open_fd_opts() flags. */
enum {
	ELF_IMAGE_NO_SYMS = 1 << 0, /* headers, build id and sections only */
};

/* elf_sym.flags */
enum {
	/* The symbol had no size: size reaches to the next symbol (or the end
	 * of its section), possibly over functions no symbol names. */
	ELF_SYM_GUESSED_SIZE = 1 << 0,
};

/* A function covering [addr, addr + size) in ELF virtual addresses. */
struct elf_sym {
	uint64_t addr;
	uint64_t size;
	uint32_t name; /* offset into elf_image.names */
	uint32_t flags; /* ELF_SYM_* */
};

struct elf_load {
	uint64_t offset;
	uint64_t vaddr;
	uint64_t filesz;
	uint64_t memsz;
	uint32_t flags; /* PF_X | PF_W | PF_R */
};

struct elf_image {
	struct elf_sym *syms; /* sorted by addr, one per address */
	size_t nsyms;
	char *names;
	size_t names_len;
	struct elf_load loads[ELF_IMAGE_MAX_LOADS];
	size_t nloads;
	int from_symtab; /* 1: a full .symtab (own or merged), 0: .dynsym or none */
	char build_id[2 * ELF_IMAGE_MAX_BUILD_ID + 1]; /* lowercase hex or "" */
	unsigned sections; /* ELF_IMAGE_* */
	char debuglink[ELF_IMAGE_MAX_DEBUGLINK]; /* base name, "" without ELF_IMAGE_DEBUGLINK */
	uint32_t debuglink_crc;
};

/* A symbol to merge into an image; name is copied. */
struct elf_sym_in {
	uint64_t addr;
	uint64_t size; /* 0: up to the next symbol (bounded by the segment) */
	const char *name;
	int global;    /* preferred over a local name at the same address */
};

/* A defined function symbol (STT_FUNC or STT_GNU_IFUNC, nonzero value,
 * non-empty name) of a symbol table. name points into libelf's copy of the
 * string table: valid until elf_end(). */
struct elf_func {
	uint64_t addr;
	uint64_t size;
	const char *name;
	unsigned char bind; /* STB_* */
	unsigned char type; /* STT_* */
	uint16_t shndx;
};

/* Nonzero stops the walk and is returned by elf_symtab__each_func(). */
typedef int (*elf_func_cb)(const struct elf_func *f, void *ctx);

/* Call cb for each defined function symbol of the first section of type
 * sh_type (SHT_SYMTAB or SHT_DYNSYM), in table order. A missing, empty or
 * truncated table yields no (or fewer) symbols, never an error: every read
 * is bounded by libelf. Returns 0 or cb's nonzero value. */
int elf_symtab__each_func(Elf *elf, uint32_t sh_type, elf_func_cb cb, void *ctx);

/* Masks of symbol types (1 << STT_*) for elf_symtab__each_sym(). */
#define ELF_SYMS_FUNC ((1u << STT_FUNC) | (1u << STT_GNU_IFUNC))
#define ELF_SYMS_OBJECT (1u << STT_OBJECT)
/* The same walk over the defined symbols whose type is in the mask types
 * (e.g. ELF_SYMS_FUNC | ELF_SYMS_OBJECT: functions and data). */
int elf_symtab__each_sym(Elf *elf, uint32_t sh_type, unsigned types, elf_func_cb cb, void *ctx);

/* The PT_LOAD headers of elf, the first cap of them, in file order.
 * Returns 0 or -EINVAL (no or truncated program header table). */
int elf_read_loads(Elf *elf, struct elf_load *loads, size_t cap, size_t *n);

/* Parse the ELF file open on fd (not closed, offset not used). Returns 0 and
 * a new image (possibly with no symbols), or -ENOEXEC (not an ELF
 * executable or shared object), -EINVAL (corrupt headers), -ENOMEM. */
int elf_image__open_fd(int fd, struct elf_image **out);
int elf_image__open_fd_opts(int fd, unsigned flags, struct elf_image **out);
/* Same for an image in memory; buf is copied by nothing and only read
 * during the call. */
int elf_image__open_mem(const void *buf, size_t len, struct elf_image **out);
void elf_image__free(struct elf_image *img);

/* Add symbols to img (MiniDebugInfo, a separate debug file's .symtab, Go's
 * function table). Symbols at an address img already names compete by the
 * usual preference; the image stays sorted with one symbol per address.
 * Returns 0 or -ENOMEM (img unchanged). Invalidates elf_sym pointers. */
int elf_image__add_syms(struct elf_image *img, const struct elf_sym_in *in, size_t n);
/* elf_image__add_syms() of every symbol of from. */
int elf_image__merge(struct elf_image *img, const struct elf_image *from);

/* Copy the contents of the section called name out of the ELF file on fd
 * into *buf (malloc'ed, caller frees); *addr gets its sh_addr (may be
 * NULL). Compressed (SHF_COMPRESSED) sections are inflated first. With
 * buf NULL only *len (sh_size) and *addr are set, for any section type.
 * Returns 0, -ENOENT (no such section, or SHT_NOBITS), -EFBIG (more than
 * max bytes), -ENOEXEC/-EINVAL (not ELF, corrupt), -ENOMEM. */
int elf_file__section(int fd, const char *name, size_t max, void **buf, size_t *len,
		      uint64_t *addr);

/* File offset → ELF virtual address through the PT_LOAD that holds it:
 * p_vaddr + (off - p_offset). -ENOENT when no segment maps off. */
int elf_image__file_to_vaddr(const struct elf_image *img, uint64_t off, uint64_t *vaddr);

/* The function covering vaddr, or NULL. O(log n). */
const struct elf_sym *elf_image__find(const struct elf_image *img, uint64_t vaddr);

static inline const char *elf_image__name(const struct elf_image *img, const struct elf_sym *sym)
{
	return img->names + sym->name;
}

/* Approximate heap bytes held by img. */
size_t elf_image__bytes(const struct elf_image *img);

#endif
