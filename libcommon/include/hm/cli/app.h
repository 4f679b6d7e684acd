// What every hm binary's main shares: the common flags (--version,
// --log-level, --log-format, --config FILE), and the exit-code contract: 0 success,
// 2 usage error (bad flags, bad values), 1 any other failure, always with
// one line on stderr ("hm-call: error: ...").
//
// Header-only on purpose: it includes CLI11, which is slow to compile, and
// only the tools' main.cpp files include it.
#pragma once

#include <cstdio>
#include <exception>
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "hm/base/error.h"
#include "hm/base/log.h"

#ifndef HM_VERSION
#define HM_VERSION "0.1.0"
#endif

namespace hm::cli {

struct CommonFlags {
  std::string log_level = "info";
  std::string log_format = "text";
};

// Adds --version, --log-level, --log-format and --config to `app`.
inline void add_common_flags(CLI::App& app, CommonFlags& flags) {
  app.set_version_flag("--version", std::string(app.get_name()) + " " HM_VERSION);
  app.add_option("--log-level", flags.log_level,
                 "Log verbosity on stderr: trace, debug, info, warn, error, off")
      ->capture_default_str();
  app.add_option("--log-format", flags.log_format,
                 "Log lines as text, or json: one object per line with time, level, binary, "
                 "message and the message's fields (uid, peer, limit)")
      ->capture_default_str();
  app.set_config("--config", "", "Read flags from a TOML/INI file (any long flag as a key; "
                 "the command line wins; an unknown key is an error)");
  // A misspelt key in a config file (lisen = ...) is refused, not ignored.
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.get_formatter()->column_width(34);
}

// Parses, initialises logging and runs `body`, mapping outcomes to exit
// codes. `body` returns the exit code on success paths it decides itself.
inline int run(CLI::App& app, int argc, char** argv, const CommonFlags& flags,
               const std::function<int()>& body) {
  const std::string program = app.get_name();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: error: %s\nRun '%s --help' for usage.\n", program.c_str(),
                 e.what(), program.c_str());
    return 2;
  }
  // The one line of a failure: a JSON log line once JSON logs are on.
  const auto report = [&](const std::exception& e) {
    if (log_format() == LogFormat::json) {
      spdlog::error("{}", e.what());
    } else {
      std::fprintf(stderr, "%s: error: %s\n", program.c_str(), e.what());
    }
  };
  try {
    init_logging(program, flags.log_level, parse_log_format(flags.log_format));
    return body();
  } catch (const UsageError& e) {
    report(e);
    return 2;
  } catch (const std::exception& e) {
    report(e);
    return 1;
  }
}

}  // namespace hm::cli
