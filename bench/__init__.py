"""`make bench`: our stack and a stock `rasa init` bot, side by side, under closed- and open-loop load."""
