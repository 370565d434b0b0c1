/* SPDX-License-Identifier: MIT */
/*
 * Code addresses to names for leak reports. Always: dladdr (the function
 * when its object exports it; object+offset for addr2line). Better, where
 * the system has elfutils' libdw (Debian libdw1), loaded with dlopen only
 * when a report is printed (no link-time dependency): names from the
 * symbol table (static functions, executables without -rdynamic) and the
 * source file and line from the debug information.
 *
 * libdw's types are declared here (its stable C ABI, elfutils/libdwfl.h),
 * so building needs no libdw-dev either.
 */
#include "symbolize.h"

#include <dlfcn.h>
#include <elf.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct Dwfl Dwfl;
typedef struct Dwfl_Module Dwfl_Module;
typedef struct Dwfl_Line Dwfl_Line;
typedef uint64_t Dwarf_Addr;
typedef uint64_t Dwarf_Word;
typedef struct Dwarf_Files Dwarf_Files;
/* libdw.h's layouts of the two structs passed by address */
typedef struct {
    void *addr;
    void *cu;
    void *abbrev;
    long padding__;
} Dwarf_Die;
typedef struct {
    unsigned code, form;
    unsigned char *valp;
    void *cu;
} Dwarf_Attribute;
#define DW_TAG_inlined_subroutine 0x1d
#define DW_AT_call_file 0x58
#define DW_AT_call_line 0x59
typedef struct {
    int (*find_elf)(void);        /* the real signatures do not matter here: */
    int (*find_debuginfo)(void);  /* libdw's own functions are stored */
    int (*section_address)(void);
    char **debuginfo_path;
} Dwfl_Callbacks;

static struct {
    Dwfl *(*begin)(const Dwfl_Callbacks *);
    int (*proc_report)(Dwfl *, pid_t);
    int (*report_end)(Dwfl *, void *, void *);
    Dwfl_Module *(*addrmodule)(Dwfl *, Dwarf_Addr);
    const char *(*addrinfo)(Dwfl_Module *, Dwarf_Addr, Elf64_Off *, Elf64_Sym *, Elf64_Word *,
                            void **, Dwarf_Addr *);
    Dwfl_Line *(*getsrc)(Dwfl_Module *, Dwarf_Addr);
    const char *(*lineinfo)(Dwfl_Line *, Dwarf_Addr *, int *, int *, Dwarf_Word *, Dwarf_Word *);
    void (*end)(Dwfl *);
    Dwarf_Die *(*addrdie)(Dwfl_Module *, Dwarf_Addr, Dwarf_Addr *);
    int (*getscopes)(Dwarf_Die *, Dwarf_Addr, Dwarf_Die **);
    int (*tag)(Dwarf_Die *);
    Dwarf_Attribute *(*attr)(Dwarf_Die *, unsigned, Dwarf_Attribute *);
    int (*formudata)(Dwarf_Attribute *, Dwarf_Word *);
    int (*getsrcfiles)(Dwarf_Die *, Dwarf_Files **, size_t *);
    const char *(*filesrc)(Dwarf_Files *, size_t, Dwarf_Word *, Dwarf_Word *);
    Dwfl_Callbacks cb;
    bool ok;
} dw;
static pthread_once_t dw_once = PTHREAD_ONCE_INIT;

static void dw_load(void)
{
    if (getenv("TLP_NO_LIBDW"))
        return;
    void *h = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return;
#define SYM(field, name) *(void **)(&dw.field) = dlsym(h, name)
    SYM(begin, "dwfl_begin");
    SYM(proc_report, "dwfl_linux_proc_report");
    SYM(report_end, "dwfl_report_end");
    SYM(addrmodule, "dwfl_addrmodule");
    SYM(addrinfo, "dwfl_module_addrinfo");
    SYM(getsrc, "dwfl_module_getsrc");
    SYM(lineinfo, "dwfl_lineinfo");
    SYM(end, "dwfl_end");
    SYM(addrdie, "dwfl_module_addrdie");
    SYM(getscopes, "dwarf_getscopes");
    SYM(tag, "dwarf_tag");
    SYM(attr, "dwarf_attr");
    SYM(formudata, "dwarf_formudata");
    SYM(getsrcfiles, "dwarf_getsrcfiles");
    SYM(filesrc, "dwarf_filesrc");
    SYM(cb.find_elf, "dwfl_linux_proc_find_elf");
    SYM(cb.find_debuginfo, "dwfl_standard_find_debuginfo");
#undef SYM
    dw.ok = dw.begin && dw.proc_report && dw.report_end && dw.addrmodule && dw.addrinfo &&
            dw.getsrc && dw.lineinfo && dw.end && dw.cb.find_elf && dw.cb.find_debuginfo &&
            dw.addrdie && dw.getscopes && dw.tag && dw.attr && dw.formudata && dw.getsrcfiles &&
            dw.filesrc;
    /* h stays open: reports may come until exit. */
}

struct tlp__sym {
    Dwfl *dwfl;
};

tlp__sym *tlp__sym_begin(void)
{
    tlp__sym *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_once(&dw_once, dw_load);
    if (dw.ok) {
        s->dwfl = dw.begin(&dw.cb);
        if (s->dwfl && (dw.proc_report(s->dwfl, getpid()) != 0 ||
                        dw.report_end(s->dwfl, NULL, NULL) != 0)) {
            dw.end(s->dwfl);
            s->dwfl = NULL;
        }
    }
    return s;
}

void tlp__sym_end(tlp__sym *s)
{
    if (!s)
        return;
    if (s->dwfl)
        dw.end(s->dwfl);
    free(s);
}

/* The source line of pc as the user wrote it: where the outermost function
 * inlined at pc was called (tlp_get is inlined into the user's function, and
 * pc is its call to the slow path), else the line of pc itself. */
static const char *source_line(Dwfl_Module *mod, uintptr_t pc, int *line)
{
    Dwarf_Addr bias = 0;
    Dwarf_Die *cu = dw.addrdie(mod, pc, &bias);
    Dwarf_Die *scopes = NULL;
    int n = cu ? dw.getscopes(cu, pc - bias, &scopes) : 0;
    const char *file = NULL;
    for (int i = n - 1; i >= 0 && !file; i--) {
        Dwarf_Attribute a;
        Dwarf_Word fidx, ln;
        Dwarf_Files *files;
        size_t nfiles;
        if (dw.tag(&scopes[i]) != DW_TAG_inlined_subroutine ||
            !dw.attr(&scopes[i], DW_AT_call_file, &a) || dw.formudata(&a, &fidx) != 0 ||
            !dw.attr(&scopes[i], DW_AT_call_line, &a) || dw.formudata(&a, &ln) != 0 ||
            dw.getsrcfiles(cu, &files, &nfiles) != 0 || fidx >= nfiles)
            continue;
        file = dw.filesrc(files, fidx, NULL, NULL);
        *line = (int)ln;
    }
    free(scopes);
    if (!file) {
        Dwfl_Line *l = dw.getsrc(mod, pc);
        file = l ? dw.lineinfo(l, NULL, line, NULL, NULL, NULL) : NULL;
    }
    return file;
}

void tlp__sym_print(tlp__sym *s, FILE *out, void *addr)
{
    /* A return address: look up the byte before it (a call that ends its
     * function returns past the end). */
    uintptr_t pc = (uintptr_t)addr - 1;
    Dl_info di;
    bool have = dladdr((void *)pc, &di) && di.dli_fname;
    const char *name = have ? di.dli_sname : NULL;
    uintptr_t start = have ? (uintptr_t)di.dli_saddr : 0;
    Dwfl_Module *mod = s && s->dwfl ? dw.addrmodule(s->dwfl, pc) : NULL;
    if (mod && !name) {
        Elf64_Off off = 0;
        Elf64_Sym sym;
        name = dw.addrinfo(mod, pc, &off, &sym, NULL, NULL, NULL);
        start = name ? pc - (uintptr_t)off : 0;
    }
    if (name) {
        if (start)
            fprintf(out, "%s+0x%tx", name, (uintptr_t)addr - start);
        else
            fprintf(out, "%s", name);
    } else {
        fprintf(out, "%p", addr);
    }
    if (have) {
        const char *base = strrchr(di.dli_fname, '/');
        fprintf(out, " (%s+0x%tx)", base ? base + 1 : di.dli_fname,
                (uintptr_t)addr - (uintptr_t)di.dli_fbase);
    }
    int ln = 0;
    const char *file = mod ? source_line(mod, pc, &ln) : NULL;
    if (file) {
        const char *base = strrchr(file, '/');
        fprintf(out, " at %s:%d", base ? base + 1 : file, ln);
    }
}
