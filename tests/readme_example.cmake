# SPDX-License-Identifier: MIT
# cmake -P script (ctest: readme_example_compiles): the README's first C
# example, as written, compiles without warnings under -Wall -Wextra.
# Inputs: CC, README, INC, OUT.
file(READ ${README} text)
string(FIND "${text}" "```c\n" start)
if(start EQUAL -1)
  message(FATAL_ERROR "no ```c block in ${README}")
endif()
math(EXPR start "${start} + 5")
string(SUBSTRING "${text}" ${start} -1 rest)
string(FIND "${rest}" "```" end)
string(SUBSTRING "${rest}" 0 ${end} code)
file(WRITE ${OUT} "${code}")
execute_process(COMMAND ${CC} -std=c11 -Wall -Wextra -Werror -I${INC} -c ${OUT} -o ${OUT}.o
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the README example does not compile cleanly:\n${out}")
endif()
