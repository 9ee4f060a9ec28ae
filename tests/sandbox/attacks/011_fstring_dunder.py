# attack: f-string reaching __dict__
# expect: rejected SB202
class Attack(Strategy):
    def on_data(self, bar):
        self.log(f"{self.__dict__}")
