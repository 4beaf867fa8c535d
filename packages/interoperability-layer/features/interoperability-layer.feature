Feature: Interoperability layer: the OpenHIM-compatible admin API

  Scenario: The root user generated at init can use the admin API
    Given I use basic auth as "${OPENHIM_ROOT_EMAIL}" with password "${OPENHIM_ROOT_PASSWORD}"
    When I send a GET request to "${INTEROP_LAYER_API_URL}/me"
    Then the response status is 200
    And the response body contains "${OPENHIM_ROOT_EMAIL}"
    When I send a GET request to "${INTEROP_LAYER_API_URL}/heartbeat"
    Then the response status is 200

  Scenario: A wrong root password is refused
    Given I use basic auth as "${OPENHIM_ROOT_EMAIL}" with password "openhim-password"
    When I send a GET request to "${INTEROP_LAYER_API_URL}/channels"
    Then the response status is 401

  Scenario: The router refuses an anonymous request no public channel takes, without saying which channels exist
    Given I use no authentication
    When I send a GET request to "${INTEROP_LAYER_ROUTER_URL}/no-such-channel"
    Then the response status is 401
