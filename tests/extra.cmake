# SPDX-License-Identifier: MIT
# Per-test needs beyond the glob in tests/CMakeLists.txt.

# Buffer pool tests: the double-free / write-after-free death tests exist only
# in checked builds, so they must know whether the library is checked.
foreach(t test_bufpool test_bufpool_threads)
  if(TARGET ${t})
    target_compile_definitions(${t} PRIVATE $<$<BOOL:${TLP_CHECKED}>:TLP_CHECKED>)
  endif()
endforeach()

# The libuv adapter test needs tlpool::uv (built only when libuv is found);
# without it the test compiles to a single skipped case.
if(TARGET test_uv_adapter)
  if(TARGET tlpool::uv)
    target_link_libraries(test_uv_adapter PRIVATE tlpool::uv)
    target_compile_definitions(test_uv_adapter PRIVATE TLP_HAVE_UV)
  endif()
endif()

# Leak reports name functions through dladdr: the test's own functions must
# be in its dynamic symbol table (-rdynamic).
if(TARGET test_leaks)
  set_target_properties(test_leaks PROPERTIES ENABLE_EXPORTS ON)
endif()

# tlp_stats_print's JSON parsed by Python's json module, its counters
# compared with tlp_stats_get's (tests/check_stats_json.py).
add_executable(stats_print_probe stats_print_probe.c)
target_link_libraries(stats_print_probe PRIVATE tlpool::tlpool)
tlp_warnings(stats_print_probe)
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME stats_json
    COMMAND sh -c "\"$1\" >stats_print.json 2>stats_print.expected && \"$2\" \"$3\" stats_print.json stats_print.expected"
            sh $<TARGET_FILE:stats_print_probe> ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/check_stats_json.py
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
endif()

# TLPOOL_CONF, one case per key and bad values (tests/conf_probe.c).
add_executable(conf_probe conf_probe.c)
target_link_libraries(conf_probe PRIVATE tlpool::tlpool)
tlp_warnings(conf_probe)
function(tlp_conf_test name conf)
  add_test(NAME conf.${name} COMMAND conf_probe ${ARGN})
  set_tests_properties(conf.${name} PROPERTIES ENVIRONMENT "TLPOOL_CONF=${conf}")
endfunction()
tlp_conf_test(thread_cache "thread_cache:8" thread_cache 8)
tlp_conf_test(drain_ms "drain_ms:20" drain_ms)
tlp_conf_test(leaks_off "leaks:off" leaks off)
tlp_conf_test(leaks_unset "" leaks off)
tlp_conf_test(leaks_all "leaks:all" leaks all)
tlp_conf_test(leaks_sampled "leaks:16" leaks 16)
tlp_conf_test(buf_max_idle_bytes "buf_max_idle_bytes:64k" buf_max_idle_bytes)
tlp_conf_test(buf_zero_on_free "buf_zero_on_free:true" buf_zero_on_free)
tlp_conf_test(buf_thread_idle_bytes "buf_thread_idle_bytes:128k" buf_thread_idle_bytes 131072)
tlp_conf_test(buf_thread_idle_bytes_default "" buf_thread_idle_bytes 262144)
tlp_conf_test(buf_thread_idle_bytes_config "" buf_thread_idle_bytes 196608 config)
tlp_conf_test(buf_thread_idle_bytes_env_wins "buf_thread_idle_bytes:128k" buf_thread_idle_bytes 131072 config)
tlp_conf_test(buf_thread_idle_bytes_none "buf_thread_idle_bytes:none" buf_thread_idle_bytes none)
# Below the default pool's largest class (64 KiB): a warning, and ignored.
tlp_conf_test(buf_thread_idle_bytes_too_small "buf_thread_idle_bytes:1k" buf_thread_idle_bytes 262144)
tlp_conf_test(buf_drain_ms "buf_drain_ms:20" buf_drain_ms)
tlp_conf_test(default_config "" default_config)
tlp_conf_test(default_config_env "buf_zero_on_free:1" default_config env)
tlp_conf_test(no_warnings " leaks:off , stats:off,thread_cache:64,drain_ms:0,buf_max_idle_bytes:1g,buf_thread_idle_bytes:512k,buf_zero_on_free:no,buf_drain_ms:0" warnings)
tlp_conf_test(bad_values
  "leaks:some,stats:xml,thread_cache:99999999,drain_ms:-1,buf_max_idle_bytes:12q,buf_thread_idle_bytes:1x,buf_zero_on_free:maybe,buf_drain_ms:,colour:blue,nocolon,thread_cache:4"
  warnings "bad value 'some' for key 'leaks'" "bad value 'xml' for key 'stats'"
  "bad value '99999999' for key 'thread_cache'" "bad value '-1' for key 'drain_ms'"
  "bad value '12q' for key 'buf_max_idle_bytes'" "bad value '1x' for key 'buf_thread_idle_bytes'"
  "bad value 'maybe' for key 'buf_zero_on_free'"
  "bad value '' for key 'buf_drain_ms'" "unknown key 'colour'" "no ':' in item 'nocolon'")
# A bad item does not stop the good ones after it (thread_cache:4 above).
tlp_conf_test(bad_then_good "thread_cache:x,thread_cache:8" thread_cache 8)
# stats:json at exit: what the program leaves on stderr is one JSON document.
if(Python3_Interpreter_FOUND)
  add_test(NAME conf.stats_json_at_exit
    COMMAND sh -c "TLPOOL_CONF=stats:json \"$1\" stats_exit 2>&1 >/dev/null | \"$2\" -c 'import json,sys; d=json.load(sys.stdin); p=[x for x in d[\"pools\"] if x[\"name\"]==\"at-exit\"][0]; assert p[\"out\"]==1 and p[\"gets\"]==21, p'"
            sh $<TARGET_FILE:conf_probe> ${Python3_EXECUTABLE})
  add_test(NAME conf.stats_text_at_exit COMMAND sh -c "TLPOOL_CONF=stats:text \"$1\" stats_exit 2>&1 >/dev/null | grep -q '^at-exit '" sh $<TARGET_FILE:conf_probe>)
endif()
# conf_probe names its leak_exported() in a leak report: export it.
set_target_properties(conf_probe PROPERTIES ENABLE_EXPORTS ON)

# TLP_SCOPED unwound by a C++ exception through C code: the C half is
# compiled with -fexceptions (without it C has no cleanups to run on unwind).
if(TARGET test_scoped_cxx)
  target_sources(test_scoped_cxx PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/scoped_c_unwind.c)
  set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/scoped_c_unwind.c
    PROPERTIES COMPILE_OPTIONS "-fexceptions")
endif()

# The scoped macro in C again through the out-of-line calls (TLP_NO_INLINE).
if(TARGET test_scoped)
  add_executable(test_scoped_noinline ${CMAKE_CURRENT_SOURCE_DIR}/test_scoped.c)
  target_link_libraries(test_scoped_noinline PRIVATE tlpool::tlpool)
  target_compile_definitions(test_scoped_noinline PRIVATE TLP_NO_INLINE)
  tlp_warnings(test_scoped_noinline)
  add_test(NAME test_scoped_noinline COMMAND test_scoped_noinline)
endif()

# What leak tracking costs (tests/leak_cost.cmake): callgrind's instructions
# per get/put pair of tracked pools against an untracked one, bounded. Only
# optimised builds with the inline path (not checked, poison or sanitized),
# where valgrind is installed.
find_program(TLP_VALGRIND_EXE valgrind)
if(TLP_VALGRIND_EXE AND NOT TLP_CHECKED AND NOT TLP_POISON AND NOT TLP_SANITIZE
   AND NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
  foreach(v plain:0 all:1 s64:64)
    string(REPLACE ":" ";" kv ${v})
    list(GET kv 0 suffix)
    list(GET kv 1 sample)
    add_executable(leak_cost_${suffix} ${PROJECT_SOURCE_DIR}/bench/pair_count.c)
    target_link_libraries(leak_cost_${suffix} PRIVATE tlpool::tlpool)
    target_compile_definitions(leak_cost_${suffix} PRIVATE TLPB_TLPOOL TLPB_LEAK_SAMPLE=${sample})
    tlp_warnings(leak_cost_${suffix})
  endforeach()
  add_test(NAME leak_cost
    COMMAND ${CMAKE_COMMAND} -DVALGRIND=${TLP_VALGRIND_EXE}
            -DPLAIN=$<TARGET_FILE:leak_cost_plain> -DALL=$<TARGET_FILE:leak_cost_all>
            -DS64=$<TARGET_FILE:leak_cost_s64> -P ${CMAKE_CURRENT_SOURCE_DIR}/leak_cost.cmake
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(leak_cost PROPERTIES TIMEOUT 300)
endif()
