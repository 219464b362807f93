# Installs the built library into a scratch prefix, then configures, builds and runs a CMake
# consumer and an example (with the installed llmstream::mock), and compiles, links and runs a
# program with the flags pkg-config gives.
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${WORK_DIR}/prefix
  RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/consumer -B ${WORK_DIR}/build
  -G ${GENERATOR} -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DEXAMPLES_DIR=${SOURCE_DIR}/examples RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring the consumer failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building the consumer failed: ${rc}")
endif()
execute_process(COMMAND ${WORK_DIR}/build/consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(rc OR NOT out STREQUAL "hello from an installed llmstream\n")
  message(FATAL_ERROR "the consumer failed: ${rc}: ${out}")
endif()

# The example built against the installed tree streams from its embedded mock (no key in its environment).
foreach(variable DASHSCOPE_API_KEY OPENAI_API_KEY DEEPSEEK_API_KEY LLMSTREAM_MODEL)
  unset(ENV{${variable}})
endforeach()
execute_process(COMMAND ${WORK_DIR}/build/stream_chat RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
  TIMEOUT 60)
if(rc OR NOT out MATCHES "every token you see was streamed over HTTP from this machine")
  message(FATAL_ERROR "the installed-tree stream_chat example failed: ${rc}: ${out}${err}")
endif()

# A build without CMake: the same installed tree through pkg-config (llmstream.pc), compiled and
# linked by hand, then run.
if(NOT PKG_CONFIG_EXECUTABLE)
  find_program(PKG_CONFIG_EXECUTABLE NAMES pkg-config pkgconf REQUIRED)
endif()
file(GLOB pc_files ${WORK_DIR}/prefix/*/llmstream.pc ${WORK_DIR}/prefix/*/*/llmstream.pc
  ${WORK_DIR}/prefix/*/*/*/llmstream.pc)
list(LENGTH pc_files pc_count)
if(NOT pc_count EQUAL 1)
  message(FATAL_ERROR "expected one installed llmstream.pc, found: ${pc_files}")
endif()
get_filename_component(pc_dir ${pc_files} DIRECTORY)
set(ENV{PKG_CONFIG_PATH} ${pc_dir})
execute_process(COMMAND ${PKG_CONFIG_EXECUTABLE} --cflags --libs llmstream
  RESULT_VARIABLE rc OUTPUT_VARIABLE pc_flags ERROR_VARIABLE pc_error OUTPUT_STRIP_TRAILING_WHITESPACE)
if(rc)
  message(FATAL_ERROR "pkg-config --cflags --libs llmstream failed: ${rc}: ${pc_error}")
endif()
message(STATUS "pkg-config --cflags --libs llmstream: ${pc_flags}")
separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
execute_process(COMMAND ${PKG_CONFIG_EXECUTABLE} --variable=libdir llmstream
  OUTPUT_VARIABLE pc_libdir OUTPUT_STRIP_TRAILING_WHITESPACE)
# The rpath matters only for a shared build (-DBUILD_SHARED_LIBS=ON).
execute_process(COMMAND ${CXX} -std=c++20 ${SOURCE_DIR}/tests/install/pkg_config/main.cpp ${pc_flags}
  -Wl,-rpath,${pc_libdir} -o ${WORK_DIR}/pkg_config_consumer RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "compiling and linking with the flags from llmstream.pc failed: ${rc}")
endif()
execute_process(COMMAND ${WORK_DIR}/pkg_config_consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(rc OR NOT out STREQUAL "hello from pkg-config\n")
  message(FATAL_ERROR "the pkg-config consumer failed: ${rc}: ${out}")
endif()
