"""The server's side of an exchange that does not wait (docs/agent-protocol.md, "Exchanges"):
it is answered in the batch's commit after the scheduling pass, so the vCPUs its reports free
come back with work in that same answer; with nothing to place it is still answered at once."""
import time

from test_agent_identity import IdentityCase, StandIn, report


class NoWaitExchange(IdentityCase):
    @classmethod
    def setUpResources(cls):
        cls.make_definition("one", vcpus="1")

    def test_a_report_that_frees_vcpus_comes_back_with_work(self):
        ce = self.env("xq")
        agent = StandIn(self, ce)  # 4 vCPUs
        ids = [self.submit(name="x%d" % i, queue=ce, definition="one") for i in range(5)]
        self.wait_for(lambda: agent.exchange()[0] == 200 and len(agent.assigned) >= 4, 15,
                      "four assignments")
        first = agent.assigned[:]
        self.assertEqual(len({a["jobId"] for a in first}), 4)
        [waiting] = [i for i in ids if i not in {a["jobId"] for a in first}]
        self.wait_for(lambda: self.status(waiting) == "RUNNABLE", 10, "the fifth to be RUNNABLE")
        done = first[0]
        status, body = agent.exchange([
            report(done["jobId"], done["attempt"], "RUNNING"),
            report(done["jobId"], done["attempt"], "EXITED", exitCode=0)])
        self.assertEqual(status, 200, body)
        # The fifth job, placed by the pass that the report's freed vCPU started, is in this
        # very answer rather than in the next exchange's.
        self.assertEqual([a["jobId"] for a in body["assign"]], [waiting], body)
        self.wait_job(done["jobId"], "SUCCEEDED")

    def test_with_nothing_to_place_it_is_answered_at_once(self):
        ce = self.env("xq-idle")
        agent = StandIn(self, ce)
        t0 = time.monotonic()
        status, body = agent.exchange()
        took = time.monotonic() - t0
        self.assertEqual(status, 200, body)
        self.assertEqual(body["assign"], [])
        # Not held as a poll (those wait up to pollSeconds, 20 s).
        self.assertLess(took, 5)
