Feature: __NAME__ answers through the interoperability layer

  Background:
    Given I use basic auth as "${__ENV___CLIENT_ID}" with password "${__ENV___CLIENT_PASSWORD}"

  Scenario: The mediator is registered and heartbeats
    Given I use basic auth as "${OPENHIM_ROOT_EMAIL}" with password "${OPENHIM_ROOT_PASSWORD}"
    When I send a GET request to "${INTEROP_LAYER_API_URL}/mediators/urn:mediator:__ID__"
    Then the response status is 200
    And the response JSON at "name" is "__NAME__"
    And the response JSON at "_lastHeartbeat" matches "^\d{4}-"

  Scenario: A patient created through the router is found by the mediator, its look-up logged
    When I send a POST request to "${BASE_URL}/fhir/Patient" with the FHIR resource:
      """
      { "resourceType": "Patient", "identifier": [{ "system": "urn:__ID__:test", "value": "P-001" }], "name": [{ "family": "Moyo", "given": ["Tendai"] }] }
      """
    Then the response status is 201
    When I send a GET request to "${BASE_URL}/__ID__/patients?identifier=urn:__ID__:test|P-001"
    Then the response status is 200
    And the response JSON at "found" is at least 1
    And the response JSON at "patients.0.name" is "Moyo Tendai"
    And the transaction log soon shows the orchestration "find patient"

  Scenario: A look-up without an identifier is refused by the mediator
    When I send a GET request to "${BASE_URL}/__ID__/patients"
    Then the response status is 400
