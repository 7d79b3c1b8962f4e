/* agent_clock.c: an instance's clock difference is the least delayed of its recent requests'
 * figures; a delayed request does not move it; a clock set anew is followed within a minute;
 * instances are apart; a forgotten instance starts afresh. */
#include "server/base/agent_clock.h"
#include "check.h"

int main(void)
{
    const int64_t t0 = 1800000000000; /* epoch ms */
    /* The first request is all there is to go by. */
    CHECK_EQ_INT(agent_clock_offset("i-a", t0 - 5000, t0), 5000);
    /* A faster one shows the first was delayed. */
    CHECK_EQ_INT(agent_clock_offset("i-a", t0 + 990, t0 + 1000), 10);
    /* A request 4 s on the way (a busy server, a standby tried first) moves nothing. */
    CHECK_EQ_INT(agent_clock_offset("i-a", t0 + 2000 - 4000, t0 + 2000), 10);
    /* Another instance is its own: two hours behind. */
    CHECK_EQ_INT(agent_clock_offset("i-b", t0 - 7200000, t0 + 20), 7200020);
    CHECK_EQ_INT(agent_clock_offset("i-a", t0 + 2970, t0 + 3000), 10);
    /* A new window keeps the last one's smallest figure... */
    CHECK_EQ_INT(agent_clock_offset("i-a", t0 + 31000 - 2000, t0 + 31000), 10);
    /* ...and the host's clock set two hours back is followed once the windows before it have
     * passed: within a minute. */
    int64_t off = 0;
    for (int64_t t = t0 + 32000; t <= t0 + 92000; t += 1000) {
        off = agent_clock_offset("i-a", t - 7200000 - 5, t);
        if (t >= t0 + 32000 + 60000) CHECK_EQ_INT(off, 7200005);
    }
    CHECK_EQ_INT(off, 7200005);
    /* An instance quiet for two windows is measured afresh. */
    CHECK_EQ_INT(agent_clock_offset("i-b", t0 + 200000 - 100, t0 + 200000), 100);
    /* Forgotten (its credential revoked), it starts again from its next request. */
    agent_clock_forget("i-a");
    CHECK_EQ_INT(agent_clock_offset("i-a", t0 + 100000 - 3000, t0 + 100000), 3000);
    agent_clock_forget("i-unknown");
    agent_clock_free();
    CHECK_EQ_INT(agent_clock_offset("i-a", t0 + 1, t0), -1);
    agent_clock_free();
    return 0;
}
