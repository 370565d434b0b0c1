/* SPDX-License-Identifier: MIT */
/* Code addresses to "function+0xoff (object+0xoff) at file:line" (symbolize.c). */
#ifndef TLP_SYMBOLIZE_H
#define TLP_SYMBOLIZE_H

#include <stdio.h>

typedef struct tlp__sym tlp__sym;

/* A session for one report (libdw's view of the loaded objects, if libdw is
 * there). NULL (no memory) is accepted by the two others. */
tlp__sym *tlp__sym_begin(void);
void tlp__sym_end(tlp__sym *s);
/* Prints the return address addr, symbolized. */
void tlp__sym_print(tlp__sym *s, FILE *out, void *addr);

#endif
