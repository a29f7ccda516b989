"""The MCP server: the control plane's reads (cost queries, dimensions, datasources, teams, allocation) and
writes as tools for an AI assistant, over stdio (`costory-control-plane mcp`) and streamable HTTP on the REST
server at `/mcp`. Every tool calls the service functions REST and gRPC call, as the tenant of an API token."""
