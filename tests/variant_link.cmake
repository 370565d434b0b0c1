# SPDX-License-Identifier: MIT
# cmake -P script (ctest: variant_mismatch_fails_to_link). Links
# tests/variant/variant_prog.c against this tree's libtlpool twice: built for
# the library's handshake mode it must link; built for the other mode it must
# not, and the linker must name the missing variant symbol.
# Inputs: CC, SRC, INC, LIBDIR, LIBNAME, FENCED (ON/OFF), FLAGS (;-list), OUT.
foreach(v CC SRC INC LIBDIR LIBNAME FENCED OUT)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "variant_link.cmake: ${v} not set")
  endif()
endforeach()
if(FENCED)
  set(match_def -DTLP_FENCED)
  set(other_def)
  set(missing "tlp__tls'")          # the unfenced program wants tlp__tls
else()
  set(match_def)
  set(other_def -DTLP_FENCED)
  set(missing "tlp__tls_fenced")
endif()
execute_process(COMMAND ${CC} ${FLAGS} ${match_def} -I${INC} ${SRC} -o ${OUT}_match
                        -L${LIBDIR} -l${LIBNAME} -pthread
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the matching program failed to link:\n${out}")
endif()
execute_process(COMMAND ${CC} ${FLAGS} ${other_def} -I${INC} ${SRC} -o ${OUT}_other
                        -L${LIBDIR} -l${LIBNAME} -pthread
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc EQUAL 0)
  message(FATAL_ERROR "a program built for the other handshake mode linked: mismatch not caught")
endif()
string(FIND "${out}" "${missing}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "link failed, but not for the variant symbol (${missing}):\n${out}")
endif()
message(STATUS "mismatch caught: ${missing} undefined")
