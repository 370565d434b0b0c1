/* SPDX-License-Identifier: MIT */
/* Compiled by the header_pedantic_* tests (tests/adopt.cmake) as C11. */
#include <tlpool.h>

int main(void)
{
    return tlp_version() == TLP_VERSION_HEX ? 0 : 1;
}
