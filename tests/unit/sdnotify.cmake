# Unit tests of the sd_notify(3) client (src/util/sdnotify.c).
if(NOT TARGET PkgConfig::CMOCKA)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()

add_executable(test_sdnotify ${CMAKE_CURRENT_LIST_DIR}/test_sdnotify.c)
target_link_libraries(test_sdnotify PRIVATE qfs_util PkgConfig::CMOCKA)
add_test(NAME unit_sdnotify COMMAND test_sdnotify)
set_tests_properties(unit_sdnotify PROPERTIES TIMEOUT 30)
