// Written by the validation-test work; see tests/unit/validation_test.cpp history.
#include <gtest/gtest.h>
TEST(ValidationPlaceholder, Builds) { SUCCEED(); }
