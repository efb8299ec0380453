# stamp codec, CAN frame notation, key schedule (issue 3)
