"""Buy and hold: spend (almost) all cash on the first bar and keep the coin to the end."""


class BuyAndHold(Strategy):
    params = {"cash_fraction": 0.99}

    def on_data(self, bar):
        if self.get_position_size() == 0 and not self.open_orders:
            amount = self.get_cash() * self.params["cash_fraction"] / bar.close
            self.buy(amount)
            self.log("buying", round(amount, 6), "at about", bar.close)
