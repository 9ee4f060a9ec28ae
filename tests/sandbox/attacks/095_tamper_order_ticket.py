# attack: edit an order ticket's fields
# expect: failed SandboxViolation
class Attack(Strategy):
    def on_data(self, bar):
        ticket = self.buy(0.01)
        ticket.amount = 1000.0
