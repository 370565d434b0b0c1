# SPDX-License-Identifier: MIT
# The fuzz targets and their sources: one list shared by fuzz/CMakeLists.txt
# (libFuzzer binaries) and tests/fuzz_replay.cmake (replay of the corpus in
# ordinary builds). Paths are absolute, so either file can include this one.
set(TLP_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})
set(TLP_FUZZ_TARGETS pool_ops_fuzzer config_fuzzer)
set(TLP_FUZZ_SOURCES_pool_ops_fuzzer ${TLP_FUZZ_DIR}/pool_ops_fuzzer.c ${TLP_FUZZ_DIR}/pool_model.c)
set(TLP_FUZZ_SOURCES_config_fuzzer ${TLP_FUZZ_DIR}/config_fuzzer.c)
# The buffer pool target only once the buffer pool exists.
if(EXISTS ${TLP_FUZZ_DIR}/../src/bufpool.c)
  list(APPEND TLP_FUZZ_TARGETS bufpool_fuzzer)
  set(TLP_FUZZ_SOURCES_bufpool_fuzzer ${TLP_FUZZ_DIR}/bufpool_fuzzer.c)
endif()
