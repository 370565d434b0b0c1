/* SPDX-License-Identifier: MIT */
// Built against an installed tlpool with find_package (scripts/deb_test.sh).
// Exits 0 when a typed pool and a buffer work and the linked library is the
// version the header says.
#include <tlpool.hpp>

#include <cstdio>
#include <cstring>
#include <string>

namespace {
struct session {
    std::string user;
    void reset() { user.clear(); }
};
} // namespace

int main()
{
    tlp::pool<session> sessions({0, 0, 0, 0, "sessions"});
    session *first = nullptr;
    {
        auto s = sessions.get();
        s->user = "alice";
        first = s.get();
    }
    auto again = sessions.get();
    bool ok = again.get() == first && again->user.empty();
    again.reset();
    tlp_stats st = sessions.stats();
    ok = ok && st.gets == 2 && st.puts == 2 && st.made == 1;

    tlp::buffer b(1000);
    std::memset(b.data(), 'x', b.size());
    b.resize(3000);
    ok = ok && b[999] == 'x' && b.capacity() >= 3000;
    ok = ok && tlp_version() == TLP_VERSION_HEX;
    std::printf("deb_app (C++, find_package): %s, tlpool %u.%u.%u\n", ok ? "ok" : "FAILED",
                tlp_version() >> 16, (tlp_version() >> 8) & 255, tlp_version() & 255);
    return ok ? 0 : 1;
}
