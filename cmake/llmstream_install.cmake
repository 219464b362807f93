include(CMakePackageConfigHelpers)

install(TARGETS llmstream-mock llmstream-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS llmstream llmstream-mock-lib EXPORT llmstreamTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/llmstream DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT llmstreamTargets NAMESPACE llmstream::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/llmstream)
configure_package_config_file(cmake/llmstreamConfig.cmake.in
  ${PROJECT_BINARY_DIR}/llmstreamConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/llmstream)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/llmstreamConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/llmstreamConfig.cmake ${PROJECT_BINARY_DIR}/llmstreamConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/llmstream)

# pkg-config, for builds that do not use CMake. A static libllmstream.a needs everything it uses
# on the link line (pkg-config --libs without --static gives only Requires and Libs); a shared one
# needs only Boost.System and threads in the user's program, the rest stays private. Boost ships no
# .pc files, so its libraries are plain -l flags; simdjson and OpenSSL have theirs.
if(BUILD_SHARED_LIBS)
  set(LLMSTREAM_PC_REQUIRES "")
  set(LLMSTREAM_PC_REQUIRES_PRIVATE "simdjson >= 3 openssl >= 3 libnghttp2 >= 1.52 hiredis >= 0.14")
  set(LLMSTREAM_PC_LIBS "-lboost_system -pthread")
  set(LLMSTREAM_PC_LIBS_PRIVATE "-lboost_json -lboost_url")
else()
  set(LLMSTREAM_PC_REQUIRES "simdjson >= 3 openssl >= 3 libnghttp2 >= 1.52 hiredis >= 0.14")
  set(LLMSTREAM_PC_REQUIRES_PRIVATE "")
  set(LLMSTREAM_PC_LIBS "-lboost_json -lboost_url -lboost_system -pthread")
  set(LLMSTREAM_PC_LIBS_PRIVATE "")
endif()
set(_llmstream_pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE ${CMAKE_INSTALL_LIBDIR})
  set(LLMSTREAM_PC_PREFIX ${CMAKE_INSTALL_PREFIX})
  set(LLMSTREAM_PC_LIBDIR ${CMAKE_INSTALL_LIBDIR})
else()
  file(RELATIVE_PATH _llmstream_pc_up /prefix/${_llmstream_pc_dir} /prefix)
  string(REGEX REPLACE "/$" "" _llmstream_pc_up "${_llmstream_pc_up}")
  set(LLMSTREAM_PC_PREFIX "\${pcfiledir}/${_llmstream_pc_up}")
  set(LLMSTREAM_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE ${CMAKE_INSTALL_INCLUDEDIR})
  set(LLMSTREAM_PC_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR})
else()
  set(LLMSTREAM_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(cmake/llmstream.pc.in ${PROJECT_BINARY_DIR}/llmstream.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/llmstream.pc DESTINATION ${_llmstream_pc_dir})
