"""The ``thespian_metrics`` fixture of the pytest plugin, in a throwaway project (no conftest)."""
from test_pytest_plugin import run_project


def test_thespian_metrics_fixture_in_a_users_project(tmp_path):
    res = run_project(tmp_path, {"test_orders.py": """
        from thespian.actors import ActorSystem
        from thespian_trace import TracedActor, traced_ask

        class Orders(TracedActor):
            measure_duration = True

            def receiveMsg_str(self, msg, sender):
                if msg == "bad":
                    raise ValueError(msg)
                self.send(sender, msg.upper())

        def test_orders_are_counted(thespian_metrics, thespian_spans):
            asys = ActorSystem("simpleSystemBase", transientUnique=True)
            try:
                orders = asys.createActor(Orders)
                assert traced_ask(asys, orders, "a", 5) == "A"
                assert asys.ask(orders, "b", 5) == "B"
                asys.ask(orders, "bad", 5)
            finally:
                asys.shutdown()
            m = thespian_metrics
            assert m.value("messaging.thespian.messages.handled", "Orders", "str") == 5  # 3 tries of "bad"
            assert m.value("messaging.thespian.messages.failed", "Orders", error_type="ValueError") == 3
            assert m.value("messaging.process.duration", "Orders", "str") == 5
            (ok,) = [p for p in m.points("messaging.process.duration", "Orders")
                     if "error.type" not in p["attributes"]]
            assert ok["exemplar_trace_ids"] == [thespian_spans.spans_named("process Orders")[0].trace_id]

        def test_nothing_left_over(thespian_metrics):
            assert thespian_metrics.points("messaging.thespian.messages.handled") == []
    """})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2 passed" in res.stdout
