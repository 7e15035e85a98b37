#!/usr/bin/env python3
"""Creates a user pool, app client, admin group and user in a running moto server and prints
{"issuer", "jwksURL", "clientId", "poolId", "idToken", "accessToken"} as JSON (used by the tests)."""
import json
import sys

import boto3

endpoint = sys.argv[1]
region = "us-east-1"
client = boto3.client("cognito-idp", endpoint_url=endpoint, region_name=region,
                      aws_access_key_id="testing", aws_secret_access_key="testing")
pool = client.create_user_pool(PoolName="swn-moto")["UserPool"]["Id"]
app = client.create_user_pool_client(UserPoolId=pool, ClientName="swn", ExplicitAuthFlows=["USER_PASSWORD_AUTH"])
client_id = app["UserPoolClient"]["ClientId"]
client.create_group(UserPoolId=pool, GroupName="admin")
client.admin_create_user(UserPoolId=pool, Username="motouser", TemporaryPassword="Temp-Passw0rd!")
client.admin_set_user_password(UserPoolId=pool, Username="motouser", Password="Moto-Passw0rd!", Permanent=True)
client.admin_add_user_to_group(UserPoolId=pool, Username="motouser", GroupName="admin")
result = client.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": "motouser", "PASSWORD": "Moto-Passw0rd!"})["AuthenticationResult"]
print(json.dumps({
    "issuer": f"https://cognito-idp.{region}.amazonaws.com/{pool}",
    "jwksURL": f"{endpoint}/{pool}/.well-known/jwks.json",
    "clientId": client_id, "poolId": pool,
    "idToken": result["IdToken"], "accessToken": result["AccessToken"],
}))
