// Time for records and deadlines. Wall time (seconds since the Unix epoch, as a double) is what storage
// keeps; monotonic time is what timeouts are measured with, so a clock change never kills a trial early. Any
// thread.
#pragma once

#include <string>

namespace hyperion {

double WallSeconds();       // seconds since the Unix epoch
double MonotonicSeconds();  // seconds since an arbitrary fixed point

// "2026-12-03 12:37:00" in local time, for people.
std::string FormatWallTime(double wall_seconds);

}  // namespace hyperion
