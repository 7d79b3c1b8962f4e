"""Consumable resources: CreateConsumableResource, DescribeConsumableResource,
ListConsumableResources, UpdateConsumableResource, DeleteConsumableResource and
ListJobsByConsumableResource through boto3 and the AWS CLI; a job waits RUNNABLE, with a reason
that names the resource, until the quantity it needs is free; REPLENISHABLE quantities come back
when a job ends, NON_REPLENISHABLE ones do not."""
from harness import arn
from test_jobs_common import JobsCase


def needs(*pairs):
    return {"consumableResourceList": [{"consumableResource": r, "quantity": q}
                                       for r, q in pairs]}


class ConsumableResources(JobsCase):
    max_vcpus = 4

    def test_create_describe_list_update_delete(self):
        b = self.batch
        out = b.create_consumable_resource(consumableResourceName="licenses", totalQuantity=3,
                                           tags={"team": "a"})
        self.assertEqual(out["consumableResourceArn"], arn("consumable-resource", "licenses"))
        d = b.describe_consumable_resource(consumableResource="licenses")
        self.assertEqual((d["totalQuantity"], d["inUseQuantity"], d["availableQuantity"]),
                         (3, 0, 3))
        self.assertEqual(d["resourceType"], "REPLENISHABLE")
        self.assertEqual(d["tags"], {"team": "a"})
        self.assertGreater(d["createdAt"], 0)
        # By ARN too.
        self.assertEqual(b.describe_consumable_resource(
            consumableResource=out["consumableResourceArn"])["totalQuantity"], 3)
        b.create_consumable_resource(consumableResourceName="tokens", totalQuantity=10,
                                     resourceType="NON_REPLENISHABLE")
        names = [r["consumableResourceName"]
                 for r in b.list_consumable_resources()["consumableResources"]]
        self.assertEqual(names, ["licenses", "tokens"])
        only = b.list_consumable_resources(filters=[{"name": "CONSUMABLE_RESOURCE_NAME",
                                                     "values": ["LIC*"]}])
        self.assertEqual([r["consumableResourceName"] for r in only["consumableResources"]],
                         ["licenses"])
        # SET, ADD, REMOVE; a clientToken makes an update happen once.
        u = b.update_consumable_resource
        self.assertEqual(u(consumableResource="licenses", operation="SET", quantity=5)
                         ["totalQuantity"], 5)
        self.assertEqual(u(consumableResource="licenses", operation="ADD", quantity=2,
                           clientToken="t1")["totalQuantity"], 7)
        self.assertEqual(u(consumableResource="licenses", operation="ADD", quantity=2,
                           clientToken="t1")["totalQuantity"], 7)
        self.assertEqual(u(consumableResource="licenses", operation="REMOVE", quantity=4)
                         ["totalQuantity"], 3)
        self.assertClientError(u, "quantity", consumableResource="licenses",
                               operation="REMOVE", quantity=4)
        self.assertClientError(u, "consumableResource", consumableResource="nope",
                               operation="ADD", quantity=1)
        # The AWS CLI.
        cli = self.server.aws("batch", "describe-consumable-resource", "--consumable-resource",
                              "tokens")
        self.assertEqual(cli["resourceType"], "NON_REPLENISHABLE")
        # Refusals.
        self.assertClientError(b.create_consumable_resource, "already exists",
                               consumableResourceName="licenses")
        self.assertClientError(b.create_consumable_resource, "consumableResourceName",
                               consumableResourceName="bad name")
        self.assertClientError(b.create_consumable_resource, "totalQuantity",
                               consumableResourceName="neg", totalQuantity=-1)
        b.delete_consumable_resource(consumableResource="tokens")
        self.assertClientError(b.describe_consumable_resource, "tokens",
                               consumableResource="tokens")

    def test_client_tokens(self):
        b = self.batch
        u = b.update_consumable_resource
        b.create_consumable_resource(consumableResourceName="seats", totalQuantity=1)
        self.assertClientError(u, "clientToken: must be 1 to 64 characters long (got 65)",
                               consumableResource="seats", operation="ADD", quantity=1,
                               clientToken="t" * 65)
        self.assertEqual(u(consumableResource="seats", operation="ADD", quantity=1,
                           clientToken="é" * 64)["totalQuantity"], 2)
        self.assertEqual(u(consumableResource="seats", operation="ADD", quantity=1,
                           clientToken="once")["totalQuantity"], 3)
        # A resource made again under the same name is another resource: the token used on the
        # one deleted does not stand for an update of the new one.
        b.delete_consumable_resource(consumableResource="seats")
        b.create_consumable_resource(consumableResourceName="seats", totalQuantity=1)
        self.assertEqual(u(consumableResource="seats", operation="ADD", quantity=1,
                           clientToken="once")["totalQuantity"], 2)
        b.delete_consumable_resource(consumableResource="seats")

    def test_a_resource_no_job_needs_lists_no_job(self):
        self.batch.create_consumable_resource(consumableResourceName="unused", totalQuantity=1)
        out = self.batch.list_jobs_by_consumable_resource(consumableResource="unused")
        self.batch.delete_consumable_resource(consumableResource="unused")
        self.assertEqual(out["jobs"], [])

    def test_jobs_wait_for_the_quantity_they_need(self):
        b = self.batch
        b.create_consumable_resource(consumableResourceName="seats", totalQuantity=2)
        self.make_definition("seated", consumableResourceProperties=needs(("seats", 1)))
        # They run until the test has looked (however slow the machine).
        ids = [self.submit("seat-%d" % i, definition="seated",
                           command=self.gate("seats").rstrip("; ")) for i in range(3)]
        # Two hold a seat each; the third waits and says for what.
        self.wait_for(lambda: sum(1 for d in self.describe(*ids).values()
                                  if d["status"] in ("STARTING", "RUNNING")) == 2,
                      what="two jobs holding the two seats")
        waiting = [d for d in self.describe(*ids).values() if d["status"] == "RUNNABLE"]
        self.assertEqual(len(waiting), 1)
        self.assertIn("consumable resource seats", waiting[0]["statusReason"])
        self.assertIn("needs 1, 0 available", waiting[0]["statusReason"])
        d = b.describe_consumable_resource(consumableResource="seats")
        self.assertEqual((d["inUseQuantity"], d["availableQuantity"]), (2, 0))
        listed = b.list_jobs_by_consumable_resource(consumableResource="seats")["jobs"]
        self.assertEqual(sorted(j["jobName"] for j in listed), ["seat-0", "seat-1", "seat-2"])
        self.assertEqual({j["quantity"] for j in listed}, {1})
        running = b.list_jobs_by_consumable_resource(
            consumableResource="seats", filters=[{"name": "JOB_STATUS", "values": ["RUNNABLE"]}])
        self.assertEqual([j["jobName"] for j in running["jobs"]], [waiting[0]["jobName"]])
        # A running job's resource cannot be deleted.
        self.assertClientError(b.delete_consumable_resource, "held",
                               consumableResource="seats")
        self.open_gate("seats")
        done = self.wait_jobs(ids, timeout=30)
        spans = sorted((d["startedAt"], d["stoppedAt"]) for d in done.values())
        # Never more than two at once: the third started after one of the first two ended.
        self.assertGreaterEqual(spans[2][0], min(spans[0][1], spans[1][1]))
        self.assertEqual({d["status"] for d in done.values()}, {"SUCCEEDED"})
        # Replenished.
        d = b.describe_consumable_resource(consumableResource="seats")
        self.assertEqual((d["totalQuantity"], d["inUseQuantity"]), (2, 0))
        self.assertEqual(self.job(ids[0])["consumableResourceProperties"],
                         needs((arn("consumable-resource", "seats"), 1)))

    def test_non_replenishable_quantities_are_used_up(self):
        b = self.batch
        b.create_consumable_resource(consumableResourceName="credits", totalQuantity=3,
                                     resourceType="NON_REPLENISHABLE")
        first = self.submit("spend-2", command="true",
                            consumableResourcePropertiesOverride=needs(("credits", 2)))
        self.assertEqual(self.wait_job(first)["status"], "SUCCEEDED")
        self.assertEqual(b.describe_consumable_resource(consumableResource="credits")
                         ["totalQuantity"], 1)
        # Two more are needed than are left: it waits until someone adds some.
        second = self.submit("spend-2b", command="true",
                             consumableResourcePropertiesOverride=needs(("credits", 2)))
        reason = self.wait_for(lambda: (self.job(second) or {}).get("statusReason"),
                               what="a reason")
        self.assertIn("needs 2 of consumable resource credits, which has 1 in all", reason)
        b.update_consumable_resource(consumableResource="credits", operation="ADD", quantity=1)
        self.assertEqual(self.wait_job(second)["status"], "SUCCEEDED")
        self.assertEqual(b.describe_consumable_resource(consumableResource="credits")
                         ["totalQuantity"], 0)

    def test_submit_refusals(self):
        self.assertClientError(self.submit, "consumableResourcePropertiesOverride",
                               "no consumable resource named 'ghost'",
                               consumableResourcePropertiesOverride=needs(("ghost", 1)))
        self.batch.create_consumable_resource(consumableResourceName="one", totalQuantity=1)
        self.assertClientError(self.submit, "quantity",
                               consumableResourcePropertiesOverride=needs(("one", 0)))
        # More than any resource can hold would wait for ever: refused, by a definition too.
        self.assertClientError(self.submit, "quantity: at most 1000000000000000",
                               consumableResourcePropertiesOverride=needs(("one", 2 ** 63 - 1)))
        self.assertClientError(self.make_definition, "quantity: at most 1000000000000000",
                               name="toomuch",
                               consumableResourceProperties=needs(("one", 10 ** 15 + 1)))
        self.assertClientError(self.submit, "listed twice",
                               consumableResourcePropertiesOverride=needs(("one", 1),
                                                                          ("one", 1)))
        # A definition may name a resource that does not exist yet; a submit may not.
        self.make_definition("later", consumableResourceProperties=needs(("later", 1)))
        self.assertClientError(self.submit, "no consumable resource named 'later'",
                               definition="later")
