Feature: __NAME__: a point-of-service system reads the facility directory through its own channel

  Background:
    Given I use basic auth as "${__ENV___CLIENT_ID}" with password "${__ENV___CLIENT_PASSWORD}"

  Scenario: The facilities imported at init are read through the channel
    When I send a GET request to "${BASE_URL}/__ID__/Organization/__ID__-hospital"
    Then the response status is 200
    And the response JSON at "name" is "__NAME__ district hospital"
    When I send a GET request to "${BASE_URL}/__ID__/Location?organization=Organization/__ID__-hospital"
    Then the response status is 200
    And the response JSON at "total" is at least 1
    And the response body contains "__NAME__ maternity ward"

  Scenario: The channel is read-only
    When I send a POST request to "${BASE_URL}/__ID__/Organization" with the FHIR resource:
      """
      { "resourceType": "Organization", "name": "not through this channel" }
      """
    Then the response status is 404

  Scenario: The channel is for this use case's clients only
    Given I use basic auth as "${CORE_TEST_CLIENT_ID}" with password "${CORE_TEST_CLIENT_PASSWORD}"
    When I send a GET request to "${BASE_URL}/__ID__/Organization/__ID__-hospital"
    Then the response status is 401
