"""Relative imports and aliases."""
from ..base import ShopActor as SA


class Worker(SA):
    def receiveMsg_str(self, job, sender):
        result = job[::-1]
        self.traced_send(sender, result)


class Supervisor(Worker):
    def receiveMsg_list(self, jobs, sender):
        for job in jobs:
            self.traced_send(self.createActor(Worker), job)
