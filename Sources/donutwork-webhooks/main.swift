print("donutwork-webhooks")
