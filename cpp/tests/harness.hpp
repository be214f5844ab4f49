// A minimal test harness: TEST(name) registers a function, CHECK fails the current test.
#pragma once

#include <cstdio>
#include <functional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace groot_test {

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline std::vector<std::pair<const char*, std::function<void()>>>& registry() {
  static std::vector<std::pair<const char*, std::function<void()>>> tests;
  return tests;
}

struct Register {
  Register(const char* name, std::function<void()> fn) { registry().emplace_back(name, std::move(fn)); }
};

inline std::mt19937_64& rng() {
  static std::mt19937_64 engine(20241125);
  return engine;
}

inline double uniform(double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(rng());
}

}  // namespace groot_test

#define TEST(name)                                                      \
  static void name();                                                   \
  static const groot_test::Register name##_registration(#name, name);   \
  static void name()

#define CHECK(condition)                                                                 \
  do {                                                                                   \
    if (!(condition)) {                                                                  \
      std::ostringstream where;                                                          \
      where << __FILE__ << ":" << __LINE__ << ": CHECK(" #condition ") failed";          \
      throw groot_test::Failure(where.str());                                            \
    }                                                                                    \
  } while (false)

// Checks that `expression` throws groot::InvalidArgument whose message contains `fragment`.
#define CHECK_THROWS(expression, fragment)                                               \
  do {                                                                                   \
    bool thrown = false;                                                                 \
    try {                                                                                \
      expression;                                                                        \
    } catch (const groot::InvalidArgument& error) {                                      \
      thrown = std::string(error.what()).find(fragment) != std::string::npos;            \
      if (!thrown) std::fprintf(stderr, "  message was: %s\n", error.what());            \
    }                                                                                    \
    CHECK(thrown && "expected InvalidArgument mentioning " fragment);                    \
  } while (false)

int main() {
  int failed = 0;
  for (auto& [name, fn] : groot_test::registry()) {
    try {
      fn();
      std::printf("[ ok ] %s\n", name);
    } catch (const std::exception& error) {
      ++failed;
      std::printf("[FAIL] %s: %s\n", name, error.what());
    }
  }
  std::printf("%zu tests, %d failed\n", groot_test::registry().size(), failed);
  return failed == 0 ? 0 : 1;
}
