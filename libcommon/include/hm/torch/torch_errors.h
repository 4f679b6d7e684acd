// torch_errors: turning exceptions from LibTorch (and anything else) into the
// one-line messages that reach clients and logs.
//
// c10::Error's what() carries a multi-line C++ backtrace; clients should see
// only what went wrong. Free functions, any thread.
#pragma once

#include <exception>
#include <string>

namespace hm {

// The first line of the exception's message, without torch's backtrace;
// "unknown error" when it is empty.
std::string one_line_what(const std::exception& error);

}  // namespace hm
