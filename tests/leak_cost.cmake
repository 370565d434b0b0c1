# SPDX-License-Identifier: MIT
# What leak tracking costs, as callgrind counts it: instructions per 64-byte
# get/put pair (bench/pair_count.c, run with N and 2N pairs: start-up and
# teardown cancel) of a pool tracking every object and one sampling one in
# 64, against an untracked pool. Fails when a tracked pair costs more than
# MAX_ALL / MAX_64 percent of the untracked one: a regression guard, set a
# little above what is measured (every object 8.5x, one in 64 1.40x of the
# 24.4-instruction pair; docs/DESIGN.md, "Leak tracking").
#   cmake -DVALGRIND=... -DPLAIN=exe -DALL=exe -DS64=exe [-DPAIRS=n]
#         [-DMAX_ALL=950] [-DMAX_64=150] -P leak_cost.cmake
if(NOT PAIRS)
  set(PAIRS 50000)
endif()
if(NOT MAX_ALL)
  set(MAX_ALL 950)
endif()
if(NOT MAX_64)
  set(MAX_64 150)
endif()
# The executables choose their pool's tracking; TLPOOL_CONF must not.
unset(ENV{TLPOOL_CONF})

function(instructions exe pairs out)
  set(file ${CMAKE_CURRENT_BINARY_DIR}/leak_cost.${pairs}.callgrind)
  execute_process(COMMAND ${VALGRIND} --tool=callgrind --callgrind-out-file=${file} ${exe} ${pairs}
    RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${exe} under callgrind: ${rc}\n${err}")
  endif()
  file(STRINGS ${file} summary REGEX "^summary: ")
  file(REMOVE ${file})
  string(REGEX REPLACE "^summary: ([0-9]+).*" "\\1" ir "${summary}")
  set(${out} ${ir} PARENT_SCOPE)
endfunction()

# Instructions per pair, times 100 (integer arithmetic).
function(per_pair exe out)
  math(EXPR twice "2 * ${PAIRS}")
  instructions(${exe} ${PAIRS} a)
  instructions(${exe} ${twice} b)
  math(EXPR v "(${b} - ${a}) * 100 / ${PAIRS}")
  set(${out} ${v} PARENT_SCOPE)
endfunction()

per_pair(${PLAIN} plain)
per_pair(${ALL} all)
per_pair(${S64} s64)
math(EXPR r_all "${all} * 100 / ${plain}")
math(EXPR r_64 "${s64} * 100 / ${plain}")
message(STATUS "instructions per pair x100: untracked ${plain}, every object ${all} "
               "(${r_all}% of untracked), one in 64 ${s64} (${r_64}%)")
if(r_all GREATER ${MAX_ALL} OR r_64 GREATER ${MAX_64})
  message(FATAL_ERROR "leak tracking costs more than ${MAX_ALL}% (every object) or "
                      "${MAX_64}% (one in 64) of the untracked pair")
endif()
