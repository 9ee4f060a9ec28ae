# attack: str.format is refused even with harmless fields
# expect: rejected SB304
class Attack(Strategy):
    def on_data(self, bar):
        template = "{}"
        self.log(template.format(bar))
