// SPDX-License-Identifier: MIT
#include "bench.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace aiod::bench {

std::uint64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

double median(std::vector<double> v) { return percentile(std::move(v), 50.0); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  if (p <= 0) return v.front();
  if (p >= 100) return v.back();
  // Linear interpolation between closest ranks: the median of an even count
  // is the mean of the middle two.
  const double rank = p / 100.0 * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(rank));
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  const double frac = rank - static_cast<double>(lo);
  return v[lo] + (v[hi] - v[lo]) * frac;
}

// --- command line ---------------------------------------------------------------

bool CommonOptions::wants(std::string_view mode) const {
  return modes.empty() || std::find(modes.begin(), modes.end(), mode) != modes.end();
}

void add_common_options(CLI::App& app, CommonOptions& o) {
  o.daemon_path = AIOD_BENCH_DAEMON_PATH;
  app.add_option("--runs", o.runs, "runs per mode; the median is reported")->check(CLI::Range(1u, 1000u));
  app.add_option("--modes", o.modes, "modes to run (default: all): uring, syscalls, aiod")->delimiter(',');
  app.add_option("--socket", o.socket, "use the aiod listening here instead of starting a private one");
  app.add_option("--aiod", o.daemon_path, "the aiod binary to start");
  app.add_option("--daemon-arg", o.daemon_args, "an extra argument for the private aiod (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--daemon-nice", o.daemon_nice, "nice level of the private aiod (below 0 needs root)")
      ->check(CLI::Range(-20, 19));
  app.add_flag("--quiet", o.quiet, "no progress on stderr");
}

void parse_or_exit(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
}

void note(const CommonOptions& o, const char* fmt, ...) {
  if (o.quiet) return;
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
}

void die(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fputs("bench: ", stderr);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
  std::exit(1);
}

// --- the daemon -------------------------------------------------------------------

Daemon::Daemon(const CommonOptions& o, const std::vector<std::string>& extra_args) {
  if (!o.socket.empty()) {
    socket_ = o.socket;
    return;
  }
  char tmpl[] = "/tmp/aiod-bench-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) die("mkdtemp: %s", std::strerror(errno));
  dir_ = tmpl;
  socket_ = dir_ + "/aiod.sock";
  std::vector<std::string> argv = {o.daemon_path, "--socket", socket_, "--ready-fd", "3", "--log-level", "warn"};
  argv.insert(argv.end(), o.daemon_args.begin(), o.daemon_args.end());
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);

  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) < 0) die("pipe2: %s", std::strerror(errno));
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) die("fork: %s", std::strerror(errno));
  if (pid_ == 0) {
    // When this program ends without stopping it — die() exits without
    // running destructors, or a crash — the daemon goes too, instead of
    // lingering and holding this program's stdout open.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    ::dup2(ready[1], 3);  // the copy does not have close-on-exec
    if (o.daemon_nice != 0 && ::setpriority(PRIO_PROCESS, 0, o.daemon_nice) < 0) {
      std::fprintf(stderr, "bench: aiod at nice %d: %s; running it at this program's\n", o.daemon_nice,
                   std::strerror(errno));
    }
    ::execv(args[0], args.data());
    std::fprintf(stderr, "bench: exec %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(ready[1]);
  pollfd p{ready[0], POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, 10'000);
  } while (n < 0 && errno == EINTR);
  char byte = 0;
  const bool ok = n == 1 && ::read(ready[0], &byte, 1) == 1 && byte == '1';
  ::close(ready[0]);
  if (!ok) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    die("%s did not become ready within 10 s", o.daemon_path.c_str());
  }
}

Daemon::~Daemon() {
  stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

void Daemon::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  // Bounded: SIGKILL if it has not exited after 10 s.
  for (int i = 0; i < 1000; ++i) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    ::usleep(10'000);
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

double Daemon::cpu_seconds() const { return pid_ > 0 ? process_cpu_seconds(pid_) : 0.0; }

double process_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) may contain spaces: skip past its ')'.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  // Fields from 3 on; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && (fields >> f); ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// --- CPU per op ---------------------------------------------------------------------

double self_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

CpuMeter::CpuMeter(const Daemon* daemon)
    : daemon_(daemon), self0_(self_cpu_seconds()), daemon0_(daemon != nullptr ? daemon->cpu_seconds() : 0.0) {}

double CpuMeter::seconds() const {
  const double self = self_cpu_seconds() - self0_;
  return daemon_ != nullptr ? self + (daemon_->cpu_seconds() - daemon0_) : self;
}

double CpuMeter::ns_per_op(std::uint64_t ops) const {
  return ops > 0 ? seconds() * 1e9 / static_cast<double>(ops) : std::nan("");
}

void add_cpu_per_op(Report& report, const std::string& bench, const std::string& mode, const CpuMeter& meter,
                    std::uint64_t ops) {
  report.add(bench, mode, "cpu/op", "ns", meter.ns_per_op(ops), Better::lower);
}

// --- results ------------------------------------------------------------------------

Report::Row& Report::row(const std::string& bench, const std::string& mode, const std::string& metric) {
  for (Row& r : rows_) {
    if (r.bench == bench && r.mode == mode && r.metric == metric) return r;
  }
  rows_.push_back(Row{bench, mode, metric, {}, {}, Better::higher, {}});
  return rows_.back();
}

void Report::add(const std::string& bench, const std::string& mode, const std::string& metric, const std::string& unit,
                 double value, Better better) {
  Row& r = row(bench, mode, metric);
  r.unit = unit;
  r.better = better;
  r.samples.push_back(value);
}

void Report::not_available(const std::string& bench, const std::string& mode, const std::string& metric,
                           const std::string& why) {
  row(bench, mode, metric).why = why;
}

void Report::set_baseline(const std::string& bench, const std::string& mode) { baselines_.emplace_back(bench, mode); }

std::string format_value(double v, const std::string& unit) {
  char buf[64];
  if (std::isnan(v)) return "-";
  if (unit.ends_with("/s")) {  // a rate: ops/s, reads/s, writes/s, round trips/s
    if (v >= 1e6) {
      std::snprintf(buf, sizeof(buf), "%.2f M %s", v / 1e6, unit.c_str());
    } else {
      std::snprintf(buf, sizeof(buf), "%.1f k %s", v / 1e3, unit.c_str());
    }
  } else if (unit == "ns") {
    if (v >= 10'000) {
      std::snprintf(buf, sizeof(buf), "%.1f us", v / 1e3);
    } else {
      std::snprintf(buf, sizeof(buf), "%.0f ns", v);
    }
  } else if (unit == "%") {
    std::snprintf(buf, sizeof(buf), "%.2f %%", v);
  } else if (unit == "x") {
    std::snprintf(buf, sizeof(buf), "%.2fx", v);
  } else {
    std::snprintf(buf, sizeof(buf), "%.4g %s", v, unit.c_str());
  }
  return buf;
}

bool is_in_process(std::string_view mode) {
  return mode.starts_with(kUring) || mode.starts_with(kSyscalls) || mode.starts_with(kEpoll);
}

void Report::print() const {
  for (const Row& r : rows_) {
    if (r.samples.empty()) {
      std::printf("RESULT\t%s\t%s\t%s\t-\t-\tn/a (%s)\t-\t0\t-\n", r.bench.c_str(), r.mode.c_str(), r.metric.c_str(),
                  r.why.c_str());
      continue;
    }
    const double med = median(r.samples);
    std::string base_mode = kUring;
    for (const auto& [bench, mode] : baselines_) {
      if (bench == r.bench) base_mode = mode;
    }
    std::string ratio = "-";
    if (r.mode != base_mode && r.better != Better::none) {
      for (const Row& b : rows_) {
        if (b.bench == r.bench && b.metric == r.metric && b.mode == base_mode && !b.samples.empty()) {
          const double base = median(b.samples);
          char buf[32];
          std::snprintf(buf, sizeof(buf), "%.2f", med / base);
          ratio = buf;
        }
      }
    }
    // The best in-process row: highest median, or lowest where less is better.
    std::string vs_best = "-";
    if (!is_in_process(r.mode) && r.better != Better::none) {
      std::optional<double> best;
      for (const Row& b : rows_) {
        if (b.bench != r.bench || b.metric != r.metric || !is_in_process(b.mode) || b.samples.empty()) continue;
        const double m = median(b.samples);
        if (!best || (r.better == Better::higher ? m > *best : m < *best)) best = m;
      }
      if (best && *best > 0) {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%.2f", med / *best);
        vs_best = buf;
      }
    }
    const auto [lo, hi] = std::minmax_element(r.samples.begin(), r.samples.end());
    std::printf("RESULT\t%s\t%s\t%s\t%s\t%.6g\t%s\t%s\t%zu\t%s .. %s\t%s\n", r.bench.c_str(), r.mode.c_str(),
                r.metric.c_str(), r.unit.c_str(), med, format_value(med, r.unit).c_str(), ratio.c_str(),
                r.samples.size(), format_value(*lo, r.unit).c_str(), format_value(*hi, r.unit).c_str(),
                vs_best.c_str());
  }
  std::fflush(stdout);
}

}  // namespace aiod::bench
