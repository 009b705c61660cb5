"""Messages of the order pipeline (plain picklable classes)."""


class Order:
    def __init__(self, order_id, items):
        self.order_id = order_id
        self.items = list(items)


class PriceRequest:
    def __init__(self, order_id, item):
        self.order_id = order_id
        self.item = item


class Priced:
    def __init__(self, order_id, item, price):
        self.order_id = order_id
        self.item = item
        self.price = price


class Audit:
    def __init__(self, order_id, total):
        self.order_id = order_id
        self.total = total


class Audited:
    def __init__(self, order_id, seq):
        self.order_id = order_id
        self.seq = seq


class Receipt:
    def __init__(self, order_id, count, total, audit_seq):
        self.order_id = order_id
        self.count = count
        self.total = total
        self.audit_seq = audit_seq

    def __str__(self):
        return "order %s: %d items, total %.2f, audited #%d" % (
            self.order_id, self.count, self.total, self.audit_seq)
