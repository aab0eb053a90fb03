# What `cmake --install` puts in the prefix: the public headers, the kernel library, the tilefork
# command, and a CMake package so a plugin builds out of tree with find_package(tilefork).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(TILEFORK_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/tilefork)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/core/include/tilefork
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")
install(TARGETS tilefork_kernel EXPORT tileforkTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS tilefork RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

install(EXPORT tileforkTargets
  NAMESPACE tilefork::
  FILE tileforkTargets.cmake
  DESTINATION ${TILEFORK_INSTALL_CMAKEDIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/tileforkConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tileforkConfig.cmake
  INSTALL_DESTINATION ${TILEFORK_INSTALL_CMAKEDIR})
# 0.x: a minor version may change the kernel API; the plugin ABI has its own version (plugin.h).
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tileforkConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tileforkConfig.cmake ${PROJECT_BINARY_DIR}/tileforkConfigVersion.cmake
  DESTINATION ${TILEFORK_INSTALL_CMAKEDIR})
