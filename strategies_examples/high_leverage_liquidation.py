"""What 100x leverage does: once a day open a 100x position, long and short in turn; a move of
about 1% against it liquidates it and its isolated margin is lost."""


class HighLeverage(Strategy):
    params = {"amount": 0.2, "leverage": 100, "every_bars": 24}

    def on_data(self, bar):
        every = self.params["every_bars"]
        if self.get_position_size() == 0 and bar.index % every == 0:
            if (bar.index // every) % 2 == 0:
                self.buy(self.params["amount"], leverage=self.params["leverage"])
            else:
                self.sell(self.params["amount"], leverage=self.params["leverage"])

        position = self.position
        if position.is_open and bar.index % every == 1:
            self.log(
                position.side,
                "at",
                round(position.entry_price, 2),
                "liquidation at",
                round(position.liquidation_price, 2),
            )
