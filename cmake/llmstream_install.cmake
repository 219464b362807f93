include(CMakePackageConfigHelpers)

install(TARGETS llmstream-mock llmstream-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS llmstream EXPORT llmstreamTargets
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
