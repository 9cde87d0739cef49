#include "hnswstore/status.hpp"

#include <gtest/gtest.h>

#include <memory>

#include "hnswstore/version.hpp"

namespace hnswstore {
namespace {

TEST(Status, OkAndErrorsCarryCodeAndMessage) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.to_string(), "OK");
  Status s = Status::InvalidArgument("k: must be at least 1");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "k: must be at least 1");
  EXPECT_EQ(s.to_string(), "InvalidArgument: k: must be at least 1");
  EXPECT_STREQ(status_code_name(StatusCode::kResourceExhausted), "ResourceExhausted");
}

TEST(Result, ValueThrowsErrorWithTheStatus) {
  Result<int> r = Status::NotFound("id: no record with id 'x'");
  EXPECT_FALSE(r.has_value());
  EXPECT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.value_or(7), 7);
  try {
    (void)r.value();
    FAIL() << "value() on an error must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("no record with id 'x'"), std::string::npos);
  }
}

TEST(Result, HoldsMoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r.error().ok());
  EXPECT_EQ(**r, 5);
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 5);
}

TEST(Result, OkStatusWithoutValueBecomesInternal) {
  Result<int> r = Status::Ok();
  EXPECT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kInternal);
}

TEST(Version, HeaderLibraryAndCMakeAgree) {
  EXPECT_STREQ(HNSWSTORE_VERSION_STRING, HNSWSTORE_CMAKE_VERSION);
  EXPECT_STREQ(version(), HNSWSTORE_CMAKE_VERSION);
  const std::string hv = hnswlib_version();
  EXPECT_TRUE(hv == "0.6" || hv == "0.7" || hv == "0.8") << hv;
}

}  // namespace
}  // namespace hnswstore
