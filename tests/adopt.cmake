# SPDX-License-Identifier: MIT
# Tests of what a user builds against: the public headers under the strictest
# warnings, the C++ layer's header, a build-mode mismatch that must not link.

# Both headers -Wpedantic clean, in C11 and C++17, with every compiler found.
set(TLP_STRICT -Wall -Wextra -Wpedantic -Werror -fsyntax-only -I${PROJECT_SOURCE_DIR}/include)
set(TLP_HEADERS_C ${CMAKE_CURRENT_SOURCE_DIR}/variant/headers.c)
foreach(cc gcc clang)
  find_program(TLP_HAVE_${cc} ${cc})
  if(TLP_HAVE_${cc})
    add_test(NAME header_pedantic_c11_${cc}
      COMMAND ${TLP_HAVE_${cc}} -std=c11 ${TLP_STRICT} ${TLP_HEADERS_C})
    add_test(NAME header_pedantic_c11_${cc}_fenced
      COMMAND ${TLP_HAVE_${cc}} -std=c11 -DTLP_FENCED ${TLP_STRICT} ${TLP_HEADERS_C})
  endif()
endforeach()
foreach(cxx g++ clang++)
  find_program(TLP_HAVE_${cxx} ${cxx})
  if(TLP_HAVE_${cxx})
    string(REPLACE "+" "x" id ${cxx})
    add_test(NAME header_pedantic_cxx17_${id}
      COMMAND ${TLP_HAVE_${cxx}} -std=c++17 ${TLP_STRICT} -x c++ ${PROJECT_SOURCE_DIR}/include/tlpool.hpp)
    add_test(NAME header_pedantic_cxx17_${id}_fenced
      COMMAND ${TLP_HAVE_${cxx}} -std=c++17 -DTLP_FENCED ${TLP_STRICT} -x c++ ${PROJECT_SOURCE_DIR}/include/tlpool.hpp)
  endif()
endforeach()

# A program built for the other handshake mode fails to link (see tlpool.h,
# "Build variants").
set(TLP_VARIANT_FLAGS "")
if(TLP_SANITIZE)
  set(TLP_VARIANT_FLAGS "-fsanitize=${TLP_SANITIZE}")
endif()
add_test(NAME variant_mismatch_fails_to_link
  COMMAND ${CMAKE_COMMAND} -DCC=${CMAKE_C_COMPILER} -DSRC=${CMAKE_CURRENT_SOURCE_DIR}/variant/variant_prog.c
          -DINC=${PROJECT_SOURCE_DIR}/include -DLIBDIR=$<TARGET_FILE_DIR:tlpool>
          -DLIBNAME=tlpool${TLP_SUFFIX} -DFENCED=${TLP_FENCED} "-DFLAGS=${TLP_VARIANT_FLAGS}"
          -DOUT=${CMAKE_CURRENT_BINARY_DIR}/variant_prog
          -P ${CMAKE_CURRENT_SOURCE_DIR}/variant_link.cmake)

# The README's first C example compiles without warnings.
add_test(NAME readme_example_compiles
  COMMAND ${CMAKE_COMMAND} -DCC=${CMAKE_C_COMPILER} -DREADME=${PROJECT_SOURCE_DIR}/README.md
          -DINC=${PROJECT_SOURCE_DIR}/include -DOUT=${CMAKE_CURRENT_BINARY_DIR}/readme_example.c
          -P ${CMAKE_CURRENT_SOURCE_DIR}/readme_example.cmake)
